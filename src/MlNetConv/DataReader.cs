using MlNetConv.Core.Data;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Training;

namespace MlNetConv;

/// <summary>
/// Reads the feature and label columns of a data view through one cursor pass into the engine's dataset. A row that
/// cannot be read (a missing or corrupt image upstream) fails with an <see cref="InvalidDataException"/> naming the
/// row and its file (see <see cref="RowReadFailure"/>).
/// </summary>
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

        var cursor = data.GetRowCursor([featureColumn, labelColumn]);
        bool readFailed = false;
        try
        {
            var getFeatures = cursor.GetGetter<VBuffer<float>>(featureColumn);
            Func<ulong> getLabel = LabelGetter(cursor, labelColumn);
            VBuffer<float> row = default;
            var sample = new float[size];
            while (true)
            {
                int count = builder.Count;
                ulong key;
                try
                {
                    if (!cursor.MoveNext()) break;
                    getFeatures(ref row);
                    key = getLabel();
                }
                catch (Exception e) when (RowReadFailure.IsReadFailure(e))
                {
                    readFailed = true;
                    // ML.NET decodes images (and runs other transforms) on worker threads that hide which row failed: find it.
                    throw RowReadFailure.Locate(data, featureColumn, count, e, Capitalized(role) + " row");
                }
                if (row.Length != size)
                    throw new InvalidOperationException($"{Capitalized(role)} row {count}: feature column '{featureColumn.Name}' holds {row.Length} values; expected {size} ({shape}).");
                row.CopyTo(sample);
                foreach (float value in sample)
                    if (!float.IsFinite(value))
                        throw new InvalidOperationException($"{Capitalized(role)} row {count}: feature column '{featureColumn.Name}' holds {value}; features must be finite.");
                if (key == 0)
                    throw new InvalidOperationException(
                        $"{Capitalized(role)} row {count}: the label '{labelColumn.Name}' is missing (key 0), a value its MapValueToKey did not see in training.");
                if (key > (ulong)classes)
                    throw new InvalidOperationException($"{Capitalized(role)} row {count}: label key {key} is outside the {classes} classes.");
                builder.Add(sample, (int)(key - 1));
            }
        }
        finally
        {
            // A splitter cursor whose worker failed throws the worker's exception again from Dispose; keep the located one.
            RowReadFailure.Dispose(cursor, quietly: readFailed);
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

/// <summary>
/// Turns a failure to read a row into an error that names the row and its file. ML.NET runs upstream transforms
/// (LoadImages and the rest) on splitter/consolidator worker threads, so a corrupt or missing image surfaces as
/// "Splitter/consolidator worker encountered exception while consuming source data" with no row in sight. On such a
/// failure the same data is read again on one thread (<c>GetRowCursorSet(columns, 1)</c>), from the first row not yet
/// read, until the row that fails; its path-like text columns (e.g. LoadImages' input column) are then read with a
/// cursor that decodes nothing.
/// </summary>
internal static class RowReadFailure
{
    private const int MaxValueLength = 300;

    /// <summary>Whether <paramref name="e"/> came from reading data (rather than a bug or the process running out of memory).</summary>
    public static bool IsReadFailure(Exception e) => e is not (OutOfMemoryException or OperationCanceledException);

    /// <summary>
    /// Finds the first row at or after <paramref name="from"/> whose <paramref name="column"/> cannot be read and returns an
    /// <see cref="InvalidDataException"/>: "<paramref name="rowLabel"/> N (ImagePath 'train/Bag/00123.png'): the image could
    /// not be read: cause". When the row cannot be found again (the failure was transient), the message says so.
    /// </summary>
    public static InvalidDataException Locate(IDataView data, DataViewSchema.Column column, long from, Exception error, string rowLabel)
    {
        long row = -1;
        Exception cause = error;
        try
        {
            using var cursor = SingleThreadCursor(data, [column]);
            var getter = cursor.GetGetter<VBuffer<float>>(column);
            VBuffer<float> buffer = default;
            for (long index = 0; row < 0; index++)
            {
                try
                {
                    if (!cursor.MoveNext()) break;
                    if (index >= from) getter(ref buffer);
                }
                catch (Exception e) when (IsReadFailure(e))
                {
                    (row, cause) = (index, e);
                }
            }
        }
        catch (Exception e) when (IsReadFailure(e))
        {
            // The data cannot even be read again; report the original failure.
        }

        string what = data.Schema.Any(c => c.Type.GetType().Name == "ImageDataViewType") ? "the image could not be read" : "the row could not be read";
        if (row < 0)
            return new InvalidDataException($"{rowLabel} {from} or a later one: {what}: {Describe(error)}", error);
        string values = TextValues(data, row);
        return new InvalidDataException($"{rowLabel} {row}{(values.Length > 0 ? $" ({values})" : "")}: {what}: {Describe(cause)}", cause);
    }

    /// <summary>Disposes a cursor; after a read failure, without letting the failure surface again from Dispose.</summary>
    public static void Dispose(DataViewRowCursor? cursor, bool quietly)
    {
        if (!quietly)
        {
            cursor?.Dispose();
            return;
        }
        try
        {
            cursor?.Dispose();
        }
        catch (Exception e) when (IsReadFailure(e))
        {
            // Already reported, with its row.
        }
    }

    // One cursor, not split across threads: asking the view for a set of one makes each transform ask its source for one.
    private static DataViewRowCursor SingleThreadCursor(IDataView data, IEnumerable<DataViewSchema.Column> columns)
    {
        var set = data.GetRowCursorSet(columns, 1);
        if (set.Length == 1) return set[0];
        foreach (var cursor in set) cursor.Dispose();
        return data.GetRowCursor(columns);
    }

    // "ImagePath 'train/Bag/00123.png'": the row's visible text columns whose values look like file paths, or all of
    // its text columns when none does (at most four). Reading them decodes no image: those columns are not requested.
    private static string TextValues(IDataView data, long row)
    {
        var columns = data.Schema.Where(c => !c.IsHidden && c.Type is TextDataViewType).ToArray();
        if (columns.Length == 0) return "";
        try
        {
            using var cursor = data.GetRowCursor(columns);
            while (cursor.Position < row)
                if (!cursor.MoveNext()) return "";
            var values = new List<(string Name, string Value)>();
            ReadOnlyMemory<char> text = default;
            foreach (var column in columns)
            {
                cursor.GetGetter<ReadOnlyMemory<char>>(column)(ref text);
                values.Add((column.Name, text.ToString()));
            }
            var paths = values.Where(v => LooksLikePath(v.Value)).ToList();
            return string.Join(", ", (paths.Count > 0 ? paths : values).Take(4).Select(v => $"{v.Name} '{Shorten(v.Value)}'"));
        }
        catch (Exception e) when (IsReadFailure(e))
        {
            return "";
        }
    }

    private static bool LooksLikePath(string value) =>
        value.Contains('/') || value.Contains('\\') || (Path.HasExtension(value) && !value.Contains(' '));

    private static string Shorten(string value) => value.Length <= MaxValueLength ? value : value[..MaxValueLength] + "…";

    // The cause without ML.NET's splitter/consolidator wrapper and without ArgumentException's " (Parameter 'x')" tail.
    private static string Describe(Exception e)
    {
        while (e.InnerException is { } inner && (e is System.Reflection.TargetInvocationException or AggregateException
            || e.Message.StartsWith("Splitter/consolidator worker", StringComparison.Ordinal)))
            e = inner;
        string message = e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", "") : e.Message;
        return message.EndsWith('.') ? message : message + ".";
    }
}
