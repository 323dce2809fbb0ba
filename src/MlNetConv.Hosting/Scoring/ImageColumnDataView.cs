using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetConv.Hosting;

/// <summary>
/// The rows of a source view with one more column: already decoded images, one per row, in the column the
/// model's LoadImages step would have filled. The images stay the caller's (read, never disposed, here).
/// </summary>
internal sealed class ImageColumnDataView : IDataView
{
    private readonly IDataView source;
    private readonly IReadOnlyList<MLImage> images;

    public ImageColumnDataView(IDataView source, string column, DataViewType type, IReadOnlyList<MLImage> images)
    {
        this.source = source;
        this.images = images;
        Schema = BuildSchema(source.Schema, column, type);
    }

    public DataViewSchema Schema { get; }

    public bool CanShuffle => false;

    public long? GetRowCount() => images.Count;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        int sourceCount = source.Schema.Count;
        var needed = columnsNeeded.Where(c => c.Index < sourceCount).Select(c => source.Schema[c.Index]);
        return new Cursor(this, source.GetRowCursor(needed));
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private static DataViewSchema BuildSchema(DataViewSchema sourceSchema, string column, DataViewType type)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(sourceSchema);
        builder.AddColumn(column, type);
        return builder.ToSchema();
    }

    private sealed class Cursor(ImageColumnDataView view, DataViewRowCursor rows) : DataViewRowCursor
    {
        public override DataViewSchema Schema => view.Schema;

        public override long Position => rows.Position;

        public override long Batch => rows.Batch;

        public override bool MoveNext() => rows.MoveNext();

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < view.source.Schema.Count) return rows.GetGetter<TValue>(view.source.Schema[column.Index]);
            ValueGetter<MLImage> image = (ref MLImage value) => value = view.images[checked((int)rows.Position)];
            return image as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' holds images ({nameof(MLImage)}), not {typeof(TValue).Name}.");
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => rows.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index >= view.source.Schema.Count || rows.IsColumnActive(view.source.Schema[column.Index]);

        protected override void Dispose(bool disposing)
        {
            if (disposing) rows.Dispose();
            base.Dispose(disposing);
        }
    }
}
