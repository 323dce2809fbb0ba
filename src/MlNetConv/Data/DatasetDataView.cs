using MlNetConv.Core.Data;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetConv.Core.Training;

namespace MlNetConv.Data;

/// <summary>
/// An engine <see cref="Dataset"/> as an ML.NET data view: <c>Features</c> as Vector&lt;Single, C, H, W&gt; (what
/// ExtractPixels gives) and <c>Label</c> as a key whose values are the class names, so MapKeyToValue and evaluation
/// reports show names. Rows are served straight from the dataset's arrays.
/// </summary>
public sealed class DatasetDataView : IDataView
{
    private readonly Dataset data;
    private readonly string[] classNames;

    /// <summary>Wraps <paramref name="data"/>; <paramref name="classNames"/> names each label value.</summary>
    public DatasetDataView(Dataset data, IReadOnlyList<string> classNames, string featureColumnName = "Features", string labelColumnName = "Label")
    {
        this.data = data ?? throw new ArgumentNullException(nameof(data));
        this.classNames = [.. classNames ?? throw new ArgumentNullException(nameof(classNames))];
        if (this.classNames.Length < 1) throw new ArgumentException("At least one class name is needed.", nameof(classNames));
        int bad = Array.FindIndex(data.Labels, l => (uint)l >= (uint)this.classNames.Length);
        if (bad >= 0) throw new ArgumentException($"Sample {bad} has label {data.Labels[bad]}, but only {this.classNames.Length} class names were given.", nameof(classNames));

        var shape = data.SampleShape;
        var featureType = shape.Rank == 3
            ? new VectorDataViewType(NumberDataViewType.Single, shape.Channels, shape.Height, shape.Width)
            : new VectorDataViewType(NumberDataViewType.Single, shape.Size);
        var keyValues = new DataViewSchema.Annotations.Builder();
        keyValues.AddKeyValues(this.classNames.Length, TextDataViewType.Instance,
            (ref VBuffer<ReadOnlyMemory<char>> values) => values = new VBuffer<ReadOnlyMemory<char>>(this.classNames.Length, this.classNames.Select(n => n.AsMemory()).ToArray()));
        var schema = new DataViewSchema.Builder();
        schema.AddColumn(featureColumnName, featureType);
        schema.AddColumn(labelColumnName, new KeyDataViewType(typeof(uint), this.classNames.Length), keyValues.ToAnnotations());
        Schema = schema.ToSchema();
    }

    /// <inheritdoc />
    public DataViewSchema Schema { get; }

    /// <inheritdoc />
    public bool CanShuffle => false;

    /// <inheritdoc />
    public long? GetRowCount() => data.Count;

    /// <inheritdoc />
    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet());

    /// <inheritdoc />
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor(DatasetDataView view, HashSet<int> active) : DataViewRowCursor
    {
        private long position = -1;

        public override DataViewSchema Schema => view.Schema;

        public override long Position => position;

        public override long Batch => 0;

        public override bool MoveNext() => ++position < view.data.Count;

        public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)position, 0);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!IsColumnActive(column)) throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was made.");
            Delegate getter = column.Index == 0
                ? (ValueGetter<VBuffer<float>>)((ref VBuffer<float> value) =>
                {
                    int size = view.data.SampleShape.Size;
                    var editor = VBufferEditor.Create(ref value, size);
                    view.data.CopySamples((int)position, 1, editor.Values);
                    value = editor.Commit();
                })
                : (ValueGetter<uint>)((ref uint value) => value = (uint)view.data.Labels[position] + 1);
            return getter as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}, not {typeof(TValue).Name}.");
        }
    }
}
