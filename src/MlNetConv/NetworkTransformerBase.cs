using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Model.OnnxConverter;
using Microsoft.ML.Runtime;
using MlNetConv.Core;
using MlNetConv.Core.Onnx;
using MlNetConv.Core.Tensors;
using MlNetConv.Onnx;

namespace MlNetConv;

/// <summary>
/// What the transformers that run a trained network share: the network and its feature column, the network's entry
/// in the model zip, and scoring. <c>Transform</c> scores rows in batches on all cores (a look-ahead cursor gathers the
/// features of the next batch); <c>GetRowToRowMapper</c>, which PredictionEngine uses, scores one row at a time.
/// </summary>
public abstract class NetworkTransformerBase : RowToRowTransformerBase, ITransformer
{
    /// <summary>Rows gathered per scoring batch by <see cref="Transform"/>.</summary>
    internal const int ScoringBatch = 128;

    private const string NetworkStreamName = "Network.bin";

    private protected NetworkTransformerBase(IHost host, Sequential network, string featureColumnName) : base(host)
    {
        Engine = network;
        Network = new NetworkInfo(network);
        FeatureColumnName = featureColumnName;
    }

    /// <summary>A read-only view of the trained network: summary, layers and their shapes, parameter counts, copies of the weights.</summary>
    public NetworkInfo Network { get; }

    /// <summary>Threads for scoring (default: all processors). Scores do not depend on it.</summary>
    public int Threads
    {
        get => Engine.Threads;
        set => Engine.Threads = value;
    }

    /// <summary>The engine model that scores; kept inside the ML.NET layer so nothing outside can change a trained model.</summary>
    internal Sequential Engine { get; }

    /// <summary>The input column: C·H·W floats per row, channels first.</summary>
    public string FeatureColumnName { get; }

    /// <summary>One input image's shape (C, H, W).</summary>
    public Shape InputShape => Engine.InputShape;

    /// <summary>Floats per row that <see cref="ScoreRows"/> writes.</summary>
    private protected abstract int OutputSize { get; }

    /// <summary>Scores whole rows: <paramref name="features"/> holds rows of C·H·W values; writes <see cref="OutputSize"/> values per row.</summary>
    private protected abstract void ScoreRows(ReadOnlySpan<float> features, Span<float> outputs);

    /// <summary>The columns this transformer adds.</summary>
    private protected abstract DataViewSchema.DetachedColumn[] CreateOutputColumns();

    /// <summary>A getter for output column <paramref name="index"/> that reads the current row's outputs from <paramref name="row"/>.</summary>
    private protected abstract Delegate CreateOutputGetter(int index, IScoredRow row);

    /// <summary>
    /// Writes the output columns as ONNX nodes for ML.NET's <c>ConvertToOnnx</c>, after <paramref name="input"/>: the
    /// feature column as (N, C, H, W), the network's input.
    /// </summary>
    private protected abstract void SaveOutputsAsOnnx(OnnxContext ctx, IOnnxGraph graph, string input);

    /// <summary>The feature column reshaped to the network's input ((N, C, H, W), or (N, D) for flat samples), then the outputs.</summary>
    private void SaveAsOnnx(OnnxContext ctx)
    {
        var graph = new OnnxContextGraph(ctx);
        long[] dimensions = OnnxModelWriter.BatchDimensions(InputShape);
        string shape = ctx.AddInitializer(dimensions, [dimensions.Length], "MlNetConv/input_shape");
        string input = graph.AddValue("input", InputShape);
        ctx.CreateNode("Reshape", [ctx.GetVariableName(FeatureColumnName), shape], [input], ctx.GetNodeName("MlNetConv/reshape"), "");
        SaveOutputsAsOnnx(ctx, graph, input);
    }

    /// <summary>Scores rows in batches of <see cref="ScoringBatch"/> on all the network's threads.</summary>
    /// <remarks>
    /// A row whose features cannot be read while the result is read (a missing or corrupt image upstream) fails with an
    /// <see cref="InvalidDataException"/> naming the row (counting from 0) and its path-like text columns, e.g.
    /// "Row 12 (ImagePath 'test/Bag/00012.png'): the image could not be read: Invalid input stream contents."
    /// </remarks>
    public new IDataView Transform(IDataView input)
    {
        Host.CheckValue(input, nameof(input));
        return new BatchScoringDataView(this, input);
    }

    IDataView ITransformer.Transform(IDataView input) => Transform(input);

    /// <summary>Checks the feature column and returns its index; the error names the column, expected and actual type.</summary>
    internal int CheckFeatureColumn(DataViewSchema schema)
    {
        if (schema.GetColumnOrNull(FeatureColumnName) is not { } column)
            throw Host.ExceptSchemaMismatch(nameof(schema), "feature", FeatureColumnName);
        int size = InputShape.Size;
        if (column.Type is not VectorDataViewType { ItemType: var item } vector || item != NumberDataViewType.Single || vector.Size != size)
            throw Host.ExceptSchemaMismatch(nameof(schema), "feature", FeatureColumnName, $"Vector<Single, {size}> (one {InputShape} image)", column.Type.ToString());
        return column.Index;
    }

    private protected void SaveNetwork(ModelSaveContext ctx) =>
        ctx.SaveBinaryStream(NetworkStreamName, writer => Engine.Save(writer.BaseStream));

    private protected static Sequential LoadNetwork(ModelLoadContext ctx)
    {
        Sequential? network = null;
        try
        {
            if (!ctx.TryLoadBinaryStream(NetworkStreamName, reader => network = Sequential.Load(reader.BaseStream)) || network is null)
                throw new InvalidDataException($"The model zip's network entry '{NetworkStreamName}' is missing: the zip is incomplete.");
        }
        catch (InvalidDataException e) when (network is null && !e.Message.StartsWith("The model zip's", StringComparison.Ordinal))
        {
            // NetworkFormat's own message ("The network is corrupted: its checksum does not match its contents.") or the
            // zip library's (a damaged compressed entry), said of the entry it is about.
            throw new InvalidDataException($"The model zip's network entry '{NetworkStreamName}' cannot be read: {e.Message}", e);
        }
        return network;
    }

    /// <summary>Refuses, by name, a model written by an MlNetConv whose format this one cannot read (ML.NET's rule: the writer states the oldest reader that can).</summary>
    private protected static void CheckReadable(ModelLoadContext ctx, VersionInfo current, string what)
    {
        if (ctx.Header.ModelVerReadable > current.VerWrittenCur)
            throw new InvalidDataException(
                $"The model zip holds {what} in format 0x{ctx.Header.ModelVerWritten:x8}, which needs a reader of format 0x{ctx.Header.ModelVerReadable:x8} or newer; " +
                $"this MlNetConv reads up to 0x{current.VerWrittenCur:x8}. Update MlNetConv to load it.");
        ctx.CheckAtModel(current);
    }

    /// <summary>A getter that copies the current row's outputs into a dense vector.</summary>
    private protected static ValueGetter<VBuffer<float>> VectorGetter(IScoredRow row) => (ref VBuffer<float> value) =>
    {
        ReadOnlySpan<float> outputs = row.Outputs();
        var editor = VBufferEditor.Create(ref value, outputs.Length);
        outputs.CopyTo(editor.Values);
        value = editor.Commit();
    };

    /// <inheritdoc />
    protected override IRowMapper MakeRowMapper(DataViewSchema schema) => new Mapper(this, schema);

    /// <summary>The outputs of the row a cursor is on.</summary>
    private protected interface IScoredRow
    {
        ReadOnlySpan<float> Outputs();
    }

    private Delegate[] CreateGetters(Func<int, bool> activeOutput, IScoredRow row)
    {
        int count = CreateOutputColumns().Length;
        var getters = new Delegate[count];
        for (int i = 0; i < count; i++)
            if (activeOutput(i)) getters[i] = CreateOutputGetter(i, row);
        return getters;
    }

    // ISaveAsOnnx: ML.NET's ConvertToOnnx reaches the network through the row mapper (and BatchScoringDataView).
    private sealed class Mapper : MapperBase, ISaveAsOnnx
    {
        private readonly NetworkTransformerBase parent;
        private readonly int featureIndex;

        public Mapper(NetworkTransformerBase parent, DataViewSchema inputSchema)
            : base(parent.Host.Register(nameof(Mapper)), inputSchema, parent)
        {
            this.parent = parent;
            featureIndex = parent.CheckFeatureColumn(inputSchema);
        }

        protected override DataViewSchema.DetachedColumn[] GetOutputColumnsCore() => parent.CreateOutputColumns();

        protected override Func<int, bool> GetDependenciesCore(Func<int, bool> activeOutput) =>
            column => column == featureIndex && Enumerable.Range(0, OutputColumns.Value.Length).Any(activeOutput);

        // All output columns share one scorer, so a row is scored once whichever columns are read.
        public override Delegate[] CreateGetters(DataViewRow input, Func<int, bool> activeOutput, out Action disposer)
        {
            disposer = null!;
            return parent.CreateGetters(activeOutput, new RowScorer(parent, input, featureIndex));
        }

        protected override Delegate MakeGetter(DataViewRow input, int iinfo, Func<int, bool> activeOutput, out Action disposer)
        {
            disposer = null!;
            return parent.CreateOutputGetter(iinfo, new RowScorer(parent, input, featureIndex));
        }

        protected override void SaveModel(ModelSaveContext ctx) => ((ICanSaveModel)parent).Save(ctx);

        public bool CanSaveOnnx(OnnxContext ctx) => true;

        public void SaveAsOnnx(OnnxContext ctx) => parent.SaveAsOnnx(ctx);
    }

    // Scores the row a cursor is on, once per position.
    private sealed class RowScorer(NetworkTransformerBase parent, DataViewRow input, int featureIndex) : IScoredRow
    {
        private readonly ValueGetter<VBuffer<float>> features = input.GetGetter<VBuffer<float>>(input.Schema[featureIndex]);
        private readonly float[] dense = new float[parent.InputShape.Size];
        private readonly float[] outputs = new float[parent.OutputSize];
        private VBuffer<float> buffer;
        private long position = -1;

        public ReadOnlySpan<float> Outputs()
        {
            if (position != input.Position)
            {
                features(ref buffer);
                buffer.CopyTo(dense);
                parent.ScoreRows(dense, outputs);
                position = input.Position;
            }
            return outputs;
        }
    }

    /// <summary>
    /// The input's columns plus the outputs, computed a batch of rows at a time. A data transform over its input, as the
    /// view ML.NET's own row-to-row transformers return, so ConvertToOnnx walks through it to the transforms before.
    /// </summary>
    private sealed class BatchScoringDataView : ITransformCanSaveOnnx
    {
        private readonly NetworkTransformerBase parent;
        private readonly IDataView input;
        private readonly int featureIndex;

        public BatchScoringDataView(NetworkTransformerBase parent, IDataView input)
        {
            this.parent = parent;
            this.input = input;
            featureIndex = parent.CheckFeatureColumn(input.Schema);
            Schema = parent.GetOutputSchema(input.Schema);
        }

        public DataViewSchema Schema { get; }

        public IDataView Source => input;

        public bool CanShuffle => false;

        // Saved as ML.NET saves its own row-mapping views, which load back through the mapper's registered loader.
        void ICanSaveModel.Save(ModelSaveContext ctx) =>
            ((ICanSaveModel)new RowToRowMapperTransform(parent.Host, input, parent.MakeRowMapper(input.Schema), parent.MakeRowMapper)).Save(ctx);

        bool ICanSaveOnnx.CanSaveOnnx(OnnxContext ctx) => true;

        void ISaveAsOnnx.SaveAsOnnx(OnnxContext ctx) => parent.SaveAsOnnx(ctx);

        public long? GetRowCount() => input.GetRowCount();

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            var needed = columnsNeeded.Select(c => c.Index).ToHashSet();
            int inputCount = input.Schema.Count;
            var inputColumns = needed.Where(i => i < inputCount).Select(i => input.Schema[i]);
            bool scoring = needed.Any(i => i >= inputCount);
            return new Cursor(this, input.GetRowCursor(inputColumns), scoring ? input.GetRowCursor([input.Schema[featureIndex]]) : null,
                i => needed.Contains(i + inputCount));
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            [GetRowCursor(columnsNeeded, rand)];

        private sealed class Cursor : DataViewRowCursor, IScoredRow
        {
            private readonly BatchScoringDataView view;
            private readonly DataViewRowCursor main;
            private readonly DataViewRowCursor? lookAhead;
            private readonly ValueGetter<VBuffer<float>>? features;
            private readonly Delegate[] outputGetters;
            private readonly int inputSize, outputSize;
            private readonly float[] batchFeatures, batchOutputs;
            private VBuffer<float> buffer;
            private long batchStart;
            private int batchCount;
            private bool readFailed;

            public Cursor(BatchScoringDataView view, DataViewRowCursor main, DataViewRowCursor? lookAhead, Func<int, bool> activeOutput)
            {
                this.view = view;
                this.main = main;
                this.lookAhead = lookAhead;
                var parent = view.parent;
                inputSize = parent.InputShape.Size;
                outputSize = parent.OutputSize;
                batchFeatures = lookAhead is null ? [] : new float[ScoringBatch * inputSize];
                batchOutputs = lookAhead is null ? [] : new float[ScoringBatch * outputSize];
                features = lookAhead?.GetGetter<VBuffer<float>>(lookAhead.Schema[view.featureIndex]);
                outputGetters = parent.CreateGetters(activeOutput, this);
            }

            public override DataViewSchema Schema => view.Schema;

            public override long Position => main.Position;

            public override long Batch => main.Batch;

            public override bool MoveNext()
            {
                if (!main.MoveNext()) return false;
                if (lookAhead is not null && main.Position >= batchStart + batchCount) ScoreNextBatch();
                return true;
            }

            public ReadOnlySpan<float> Outputs() =>
                batchOutputs.AsSpan((int)(main.Position - batchStart) * outputSize, outputSize);

            private void ScoreNextBatch()
            {
                batchStart = main.Position;
                batchCount = 0;
                while (batchCount < ScoringBatch && ReadNext())
                {
                    Span<float> row = batchFeatures.AsSpan(batchCount * inputSize, inputSize);
                    buffer.CopyTo(row);
                    foreach (float value in row)
                        if (!float.IsFinite(value))
                            throw new InvalidOperationException(
                                $"Row {batchStart + batchCount}: feature column '{view.parent.FeatureColumnName}' holds {value}; features must be finite.");
                    batchCount++;
                }
                if (batchCount == 0) throw new InvalidOperationException("The look-ahead cursor ended before the row cursor: the input is not repeatable.");
                view.parent.ScoreRows(batchFeatures.AsSpan(0, batchCount * inputSize), batchOutputs.AsSpan(0, batchCount * outputSize));
            }

            // Moves the look-ahead cursor and reads its features; a row that cannot be read (a missing or corrupt image
            // upstream) is named with its file.
            private bool ReadNext()
            {
                try
                {
                    if (!lookAhead!.MoveNext()) return false;
                    features!(ref buffer);
                    return true;
                }
                catch (Exception e) when (RowReadFailure.IsReadFailure(e))
                {
                    readFailed = true;
                    throw RowReadFailure.Locate(view.input, view.input.Schema[view.featureIndex], batchStart + batchCount, e, "Row");
                }
            }

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
            {
                int inputCount = view.input.Schema.Count;
                if (column.Index < inputCount) return main.GetGetter<TValue>(view.input.Schema[column.Index]);
                return outputGetters[column.Index - inputCount] as ValueGetter<TValue>
                    ?? throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was made, or is not of type {typeof(TValue).Name}.");
            }

            public override ValueGetter<DataViewRowId> GetIdGetter() => main.GetIdGetter();

            public override bool IsColumnActive(DataViewSchema.Column column) =>
                column.Index < view.input.Schema.Count ? main.IsColumnActive(view.input.Schema[column.Index]) : outputGetters[column.Index - view.input.Schema.Count] is not null;

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    // After a read failure a splitter cursor throws the worker's exception again; the located one stands.
                    RowReadFailure.Dispose(main, quietly: readFailed);
                    RowReadFailure.Dispose(lookAhead, quietly: readFailed);
                }
                base.Dispose(disposing);
            }
        }
    }
}
