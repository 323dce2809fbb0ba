using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetConv;

/// <summary>
/// Rows for a loaded model's input schema when only one column matters for scoring: a saved pipeline often takes
/// columns that only training needed (a text <c>Label</c> that <c>MapValueToKey</c> reads), and scoring must still supply them.
/// </summary>
public static class ModelInput
{
    /// <summary>
    /// A data view with every column of <paramref name="inputSchema"/>, one row per value of <paramref name="values"/>: the
    /// text column <paramref name="column"/> holds the values, every other column its type's default (empty text, zero,
    /// false). Throws <see cref="ArgumentException"/> naming the column when <paramref name="column"/> is missing or not
    /// text, or when another column's type has no default here (vectors, images).
    /// </summary>
    public static IDataView Create(MLContext ml, DataViewSchema inputSchema, string column, IReadOnlyList<string> values)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ArgumentNullException.ThrowIfNull(inputSchema);
        ArgumentNullException.ThrowIfNull(values);
        if (inputSchema.GetColumnOrNull(column) is not { Type: TextDataViewType })
            throw new ArgumentException($"The model's input has no text column '{column}'; its columns are {Describe(inputSchema)}.", nameof(column));
        var builder = new ArrayDataViewBuilder(ml);
        int rows = values.Count;
        foreach (DataViewSchema.Column c in inputSchema)
        {
            if (c.IsHidden) continue;
            if (c.Name == column)
            {
                builder.AddColumn(c.Name, [.. values]);
                continue;
            }
            switch (c.Type)
            {
                case TextDataViewType: builder.AddColumn(c.Name, new string[rows]); break;
                case BooleanDataViewType: builder.AddColumn(c.Name, BooleanDataViewType.Instance, new bool[rows]); break;
                case NumberDataViewType n when n.RawType == typeof(float): builder.AddColumn(c.Name, n, new float[rows]); break;
                case NumberDataViewType n when n.RawType == typeof(double): builder.AddColumn(c.Name, n, new double[rows]); break;
                case NumberDataViewType n when n.RawType == typeof(int): builder.AddColumn(c.Name, n, new int[rows]); break;
                case NumberDataViewType n when n.RawType == typeof(long): builder.AddColumn(c.Name, n, new long[rows]); break;
                case NumberDataViewType n when n.RawType == typeof(uint): builder.AddColumn(c.Name, n, new uint[rows]); break;
                case KeyDataViewType k when k.RawType == typeof(uint): builder.AddColumn(c.Name, k, new uint[rows]); break;
                default:
                    throw new ArgumentException(
                        $"The model's input column '{c.Name}' is {c.Type}; only '{column}' is supplied when scoring, and a {c.Type} column has no default here.",
                        nameof(inputSchema));
            }
        }
        return builder.GetDataView();
    }

    /// <summary>
    /// The input column of a one-to-one transform (LoadImages, ResizeImages, ExtractPixels, …) for its first output column:
    /// for example the text column of image paths that a loaded pipeline's <c>LoadImages</c> reads. Throws
    /// <see cref="ArgumentException"/> for a transformer that does not map columns one to one.
    /// </summary>
    public static string InputColumnOf(ITransformer transformer) => ColumnPairsOf(transformer)[0].Input;

    /// <summary>
    /// The (output, input) column pairs of a one-to-one transformer such as LoadImages (which column each output is made
    /// from); throws <see cref="ArgumentException"/> for another kind of transformer.
    /// </summary>
    public static IReadOnlyList<(string Output, string Input)> ColumnPairsOf(ITransformer transformer)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        // ML.NET 5.0.1 keeps the column pairs internal (ImageLoadingTransformer.Columns too); this layer compiles against them.
        return transformer is OneToOneTransformerBase { ColumnPairs: { Length: > 0 } pairs }
            ? [.. pairs.Select(p => (p.outputColumnName, p.inputColumnName))]
            : throw new ArgumentException($"{transformer.GetType().Name} does not map one column to another.", nameof(transformer));
    }

    private static string Describe(DataViewSchema schema) => string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => $"{c.Name} ({c.Type})"));
}
