using MlNetConv.Core.Data;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Training;

namespace MlNetConv;

/// <summary>Reads the feature and label columns of a data view through one cursor pass into the engine's dataset.</summary>
internal static class DataReader
{
    public static Dataset Read(IDataView data, ConvNetOptions options, Shape shape, int classes, string role)
    {
        var featureColumn = data.Schema[options.FeatureColumnName];
        var labelColumn = data.Schema[options.LabelColumnName];
        int size = shape.Size;
        long? rowCount = data.GetRowCount();
        // 8-bit images arrive as floats; the builder keeps them as bytes when that loses nothing.
        var builder = new DatasetBuilder(shape, (int)Math.Min(rowCount ?? 1024, Array.MaxLength));

        using var cursor = data.GetRowCursor([featureColumn, labelColumn]);
        var getFeatures = cursor.GetGetter<VBuffer<float>>(featureColumn);
        Func<ulong> getLabel = LabelGetter(cursor, labelColumn);
        VBuffer<float> row = default;
        var sample = new float[size];
        while (cursor.MoveNext())
        {
            int count = builder.Count;
            getFeatures(ref row);
            if (row.Length != size)
                throw new InvalidOperationException($"{Capitalized(role)} row {count}: feature column '{featureColumn.Name}' holds {row.Length} values; expected {size} ({shape}).");
            row.CopyTo(sample);
            foreach (float value in sample)
                if (!float.IsFinite(value))
                    throw new InvalidOperationException($"{Capitalized(role)} row {count}: feature column '{featureColumn.Name}' holds {value}; features must be finite.");
            ulong key = getLabel();
            if (key == 0)
                throw new InvalidOperationException(
                    $"{Capitalized(role)} row {count}: the label '{labelColumn.Name}' is missing (key 0), a value its MapValueToKey did not see in training.");
            if (key > (ulong)classes)
                throw new InvalidOperationException($"{Capitalized(role)} row {count}: label key {key} is outside the {classes} classes.");
            builder.Add(sample, (int)(key - 1));
        }
        if (builder.Count == 0) throw new InvalidOperationException($"The {role} data has no rows.");
        return builder.Build();
    }

    private static Func<ulong> LabelGetter(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        switch (((KeyDataViewType)column.Type).RawType)
        {
            case var t when t == typeof(uint):
            {
                var get = cursor.GetGetter<uint>(column);
                uint v = 0;
                return () => { get(ref v); return v; };
            }
            case var t when t == typeof(ushort):
            {
                var get = cursor.GetGetter<ushort>(column);
                ushort v = 0;
                return () => { get(ref v); return v; };
            }
            case var t when t == typeof(byte):
            {
                var get = cursor.GetGetter<byte>(column);
                byte v = 0;
                return () => { get(ref v); return v; };
            }
            default:
            {
                var get = cursor.GetGetter<ulong>(column);
                ulong v = 0;
                return () => { get(ref v); return v; };
            }
        }
    }

    private static string Capitalized(string role) => char.ToUpperInvariant(role[0]) + role[1..];
}
