using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace MlNetConv.Core.Kernels;

/// <summary>
/// The few vector operations the hand-written kernels need, over one register width. Each kernel is written
/// once, generic over an implementation of this interface; the JIT specialises it per width, so the
/// AVX-512, AVX2, SSE/NEON and scalar paths are the same source (as TensorPrimitives does with its operators).
/// Kernel methods with loops are marked <c>AggressiveOptimization</c>: compiled optimized at their first call instead of
/// starting unoptimized and instrumented, where a scoring worker's first seconds ran 10× slower (profiled).
/// </summary>
internal interface IFloatVector<TVector> where TVector : struct
{
    /// <summary>Floats per register.</summary>
    static abstract int Count { get; }

    static abstract TVector Zero { get; }

    static abstract TVector Broadcast(float value);

    static abstract TVector Load(ref float source);

    static abstract void Store(TVector value, ref float destination);

    /// <summary>a·b + c, fused where the hardware has FMA.</summary>
    static abstract TVector MultiplyAdd(TVector a, TVector b, TVector c);

    static abstract TVector Add(TVector a, TVector b);

    static abstract TVector Multiply(TVector a, TVector b);

    static abstract TVector Subtract(TVector a, TVector b);

    static abstract TVector Divide(TVector a, TVector b);

    static abstract TVector Sqrt(TVector value);

    /// <summary>All bits set in the lanes where value &gt; 0.</summary>
    static abstract TVector GreaterThanZero(TVector value);

    /// <summary>All bits set in lanes at index ≥ <paramref name="firstLane"/>.</summary>
    static abstract TVector LanesFrom(int firstLane);

    static abstract TVector Select(TVector mask, TVector whereSet, TVector whereClear);

    /// <summary>All bits set in the lanes where a &gt; b.</summary>
    static abstract TVector GreaterThan(TVector a, TVector b);

    /// <summary>All bits set in the lanes that hold NaN.</summary>
    static abstract TVector IsNaN(TVector value);

    /// <summary>Whether any lane holds NaN.</summary>
    static abstract bool HasNaN(TVector value);

    static abstract TVector Or(TVector a, TVector b);

    /// <summary>a &amp; ~b, bitwise.</summary>
    static abstract TVector AndNot(TVector a, TVector b);

    /// <summary>0, 1, 2, … in lane order.</summary>
    static abstract TVector Indices { get; }

    /// <summary>Lanes 0, 2, 4, … of the two registers <paramref name="low"/> then <paramref name="high"/> side by side.</summary>
    static abstract TVector Even(TVector low, TVector high);

    /// <summary>Lanes 1, 3, 5, … of the two registers <paramref name="low"/> then <paramref name="high"/> side by side.</summary>
    static abstract TVector Odd(TVector low, TVector high);

    /// <summary>Stores each lane converted to int (the lanes must hold whole numbers).</summary>
    static abstract void StoreInt32(TVector value, ref int destination);

    /// <summary>A register of ints, each converted to float (exact below 2^24).</summary>
    static abstract TVector LoadInt32(ref int source);

    /// <summary>All bits set in the lanes where a = b.</summary>
    static abstract TVector Equal(TVector a, TVector b);

    /// <summary>The first halves of <paramref name="a"/> and <paramref name="b"/> interleaved, a0 b0 a1 b1 …: <see cref="Even"/> and <see cref="Odd"/> undone.</summary>
    static abstract TVector ZipLow(TVector a, TVector b);

    /// <summary>The second halves of <paramref name="a"/> and <paramref name="b"/> interleaved.</summary>
    static abstract TVector ZipHigh(TVector a, TVector b);

    static abstract float Sum(TVector value);
}

internal readonly struct Float512 : IFloatVector<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;
    public static Vector512<float> Zero => Vector512<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float value) => Vector512.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(ref float source) => Vector512.LoadUnsafe(ref source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> value, ref float destination) => value.StoreUnsafe(ref destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.MultiplyAddEstimate(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Divide(Vector512<float> a, Vector512<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Sqrt(Vector512<float> value) => Vector512.Sqrt(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> GreaterThanZero(Vector512<float> value) => Vector512.GreaterThan(value, Vector512<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> LanesFrom(int firstLane) => Vector512.GreaterThanOrEqual(Vector512<float>.Indices, Vector512.Create((float)firstLane));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Select(Vector512<float> mask, Vector512<float> whereSet, Vector512<float> whereClear) => Vector512.ConditionalSelect(mask, whereSet, whereClear);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector512<float> value) => Vector512.Sum(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> GreaterThan(Vector512<float> a, Vector512<float> b) => Vector512.GreaterThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> IsNaN(Vector512<float> value) => Vector512.IsNaN(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool HasNaN(Vector512<float> value) => !Vector512.EqualsAll(value, value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Or(Vector512<float> a, Vector512<float> b) => a | b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> AndNot(Vector512<float> a, Vector512<float> b) => Vector512.AndNot(a, b);
    public static Vector512<float> Indices => Vector512<float>.Indices;
    // The pairs of floats as 64-bit lanes: narrowing keeps each lane's low half (the even float), or its high half after a shift.
    // One two-register permute (vpermt2ps) where AVX-512 has it; the portable narrowing costs three to five instructions.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Even(Vector512<float> low, Vector512<float> high) =>
        Avx512F.IsSupported ? Avx512F.PermuteVar16x32x2(low, Vector512<int>.Indices * 2, high) : Vector512.Narrow(low.AsUInt64(), high.AsUInt64()).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Odd(Vector512<float> low, Vector512<float> high) =>
        Avx512F.IsSupported ? Avx512F.PermuteVar16x32x2(low, Vector512<int>.Indices * 2 + Vector512<int>.One, high) : Vector512.Narrow(low.AsUInt64() >> 32, high.AsUInt64() >> 32).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreInt32(Vector512<float> value, ref int destination) => Vector512.ConvertToInt32(value).StoreUnsafe(ref destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> LoadInt32(ref int source) => Vector512.ConvertToSingle(Vector512.LoadUnsafe(ref source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Equal(Vector512<float> a, Vector512<float> b) => Vector512.Equals(a, b);
    // vpermt2ps where AVX-512 has it; otherwise each half's interleave from the 256-bit halves.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> ZipLow(Vector512<float> a, Vector512<float> b) =>
        Avx512F.IsSupported ? Avx512F.PermuteVar16x32x2(a, ZipIndices(0), b)
        : Vector512.Create(Float256.ZipLow(a.GetLower(), b.GetLower()), Float256.ZipHigh(a.GetLower(), b.GetLower()));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> ZipHigh(Vector512<float> a, Vector512<float> b) =>
        Avx512F.IsSupported ? Avx512F.PermuteVar16x32x2(a, ZipIndices(8), b)
        : Vector512.Create(Float256.ZipLow(a.GetUpper(), b.GetUpper()), Float256.ZipHigh(a.GetUpper(), b.GetUpper()));
    // Lane 2i takes a's lane first + i, lane 2i + 1 b's (index 16 + first + i).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> ZipIndices(int first) =>
        (Vector512<int>.Indices >>> 1) + Vector512.Create(first) + ((Vector512<int>.Indices & Vector512<int>.One) << 4);
}

internal readonly struct Float256 : IFloatVector<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float value) => Vector256.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(ref float source) => Vector256.LoadUnsafe(ref source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> value, ref float destination) => value.StoreUnsafe(ref destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.MultiplyAddEstimate(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Divide(Vector256<float> a, Vector256<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sqrt(Vector256<float> value) => Vector256.Sqrt(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> GreaterThanZero(Vector256<float> value) => Vector256.GreaterThan(value, Vector256<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> LanesFrom(int firstLane) => Vector256.GreaterThanOrEqual(Vector256<float>.Indices, Vector256.Create((float)firstLane));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Select(Vector256<float> mask, Vector256<float> whereSet, Vector256<float> whereClear) => Vector256.ConditionalSelect(mask, whereSet, whereClear);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector256<float> value) => Vector256.Sum(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> GreaterThan(Vector256<float> a, Vector256<float> b) => Vector256.GreaterThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> IsNaN(Vector256<float> value) => Vector256.IsNaN(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool HasNaN(Vector256<float> value) => !Vector256.EqualsAll(value, value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Or(Vector256<float> a, Vector256<float> b) => a | b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> AndNot(Vector256<float> a, Vector256<float> b) => Vector256.AndNot(a, b);
    public static Vector256<float> Indices => Vector256<float>.Indices;
    // The pairs of floats as 64-bit lanes: narrowing keeps each lane's low half (the even float), or its high half after a shift.
    // vpermt2ps with AVX-512; with AVX2, a shuffle within each 128-bit half (l0 l2 h0 h2 | l4 l6 h4 h6) and a permute
    // of its 64-bit quarters into order; the portable narrowing costs five to eleven instructions.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Even(Vector256<float> low, Vector256<float> high) =>
        Avx512F.VL.IsSupported ? Avx512F.VL.PermuteVar8x32x2(low, Vector256<int>.Indices * 2, high)
        : Avx2.IsSupported ? Avx2.Permute4x64(Avx.Shuffle(low, high, 0b10_00_10_00).AsDouble(), 0b11_01_10_00).AsSingle()
        : Vector256.Narrow(low.AsUInt64(), high.AsUInt64()).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Odd(Vector256<float> low, Vector256<float> high) =>
        Avx512F.VL.IsSupported ? Avx512F.VL.PermuteVar8x32x2(low, Vector256<int>.Indices * 2 + Vector256<int>.One, high)
        : Avx2.IsSupported ? Avx2.Permute4x64(Avx.Shuffle(low, high, 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle()
        : Vector256.Narrow(low.AsUInt64() >> 32, high.AsUInt64() >> 32).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreInt32(Vector256<float> value, ref int destination) => Vector256.ConvertToInt32(value).StoreUnsafe(ref destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> LoadInt32(ref int source) => Vector256.ConvertToSingle(Vector256.LoadUnsafe(ref source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Equal(Vector256<float> a, Vector256<float> b) => Vector256.Equals(a, b);
    // With AVX2: unpack within each 128-bit half (a0 b0 a1 b1 | a4 b4 a5 b5, and a2 b2 a3 b3 | a6 b6 a7 b7), then the
    // halves in order; otherwise each half's interleave from the 128-bit halves.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> ZipLow(Vector256<float> a, Vector256<float> b) =>
        Avx.IsSupported ? Avx.Permute2x128(Avx.UnpackLow(a, b), Avx.UnpackHigh(a, b), 0x20)
        : Vector256.Create(Float128.ZipLow(a.GetLower(), b.GetLower()), Float128.ZipHigh(a.GetLower(), b.GetLower()));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> ZipHigh(Vector256<float> a, Vector256<float> b) =>
        Avx.IsSupported ? Avx.Permute2x128(Avx.UnpackLow(a, b), Avx.UnpackHigh(a, b), 0x31)
        : Vector256.Create(Float128.ZipLow(a.GetUpper(), b.GetUpper()), Float128.ZipHigh(a.GetUpper(), b.GetUpper()));
}

internal readonly struct Float128 : IFloatVector<Vector128<float>>
{
    public static int Count => Vector128<float>.Count;
    public static Vector128<float> Zero => Vector128<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Broadcast(float value) => Vector128.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Load(ref float source) => Vector128.LoadUnsafe(ref source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector128<float> value, ref float destination) => value.StoreUnsafe(ref destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.MultiplyAddEstimate(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Multiply(Vector128<float> a, Vector128<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Subtract(Vector128<float> a, Vector128<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Divide(Vector128<float> a, Vector128<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Sqrt(Vector128<float> value) => Vector128.Sqrt(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> GreaterThanZero(Vector128<float> value) => Vector128.GreaterThan(value, Vector128<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> LanesFrom(int firstLane) => Vector128.GreaterThanOrEqual(Vector128<float>.Indices, Vector128.Create((float)firstLane));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Select(Vector128<float> mask, Vector128<float> whereSet, Vector128<float> whereClear) => Vector128.ConditionalSelect(mask, whereSet, whereClear);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector128<float> value) => Vector128.Sum(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> GreaterThan(Vector128<float> a, Vector128<float> b) => Vector128.GreaterThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> IsNaN(Vector128<float> value) => Vector128.IsNaN(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool HasNaN(Vector128<float> value) => !Vector128.EqualsAll(value, value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Or(Vector128<float> a, Vector128<float> b) => a | b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> AndNot(Vector128<float> a, Vector128<float> b) => Vector128.AndNot(a, b);
    public static Vector128<float> Indices => Vector128<float>.Indices;
    // The pairs of floats as 64-bit lanes: narrowing keeps each lane's low half (the even float), or its high half after a shift.
    // One shufps on x86; the portable narrowing elsewhere (NEON's uzp1/uzp2).
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Even(Vector128<float> low, Vector128<float> high) =>
        Sse.IsSupported ? Sse.Shuffle(low, high, 0b10_00_10_00) : Vector128.Narrow(low.AsUInt64(), high.AsUInt64()).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Odd(Vector128<float> low, Vector128<float> high) =>
        Sse.IsSupported ? Sse.Shuffle(low, high, 0b11_01_11_01) : Vector128.Narrow(low.AsUInt64() >> 32, high.AsUInt64() >> 32).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreInt32(Vector128<float> value, ref int destination) => Vector128.ConvertToInt32(value).StoreUnsafe(ref destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> LoadInt32(ref int source) => Vector128.ConvertToSingle(Vector128.LoadUnsafe(ref source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Equal(Vector128<float> a, Vector128<float> b) => Vector128.Equals(a, b);
    // unpcklps / unpckhps on x86, zip1 / zip2 on NEON.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> ZipLow(Vector128<float> a, Vector128<float> b) =>
        Sse.IsSupported ? Sse.UnpackLow(a, b) : AdvSimd.Arm64.IsSupported ? AdvSimd.Arm64.ZipLow(a, b) : Vector128.Create(a[0], b[0], a[1], b[1]);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> ZipHigh(Vector128<float> a, Vector128<float> b) =>
        Sse.IsSupported ? Sse.UnpackHigh(a, b) : AdvSimd.Arm64.IsSupported ? AdvSimd.Arm64.ZipHigh(a, b) : Vector128.Create(a[2], b[2], a[3], b[3]);
}

/// <summary>One float per "register": the path taken when the runtime has no hardware intrinsics.</summary>
internal readonly struct Float1 : IFloatVector<float>
{
    public static int Count => 1;
    public static float Zero => 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Broadcast(float value) => value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load(ref float source) => source;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float value, ref float destination) => destination = value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MultiplyAdd(float a, float b, float c) => a * b + c;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Add(float a, float b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Multiply(float a, float b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Subtract(float a, float b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Divide(float a, float b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sqrt(float value) => MathF.Sqrt(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float GreaterThanZero(float value) => value > 0 ? AllBits : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float LanesFrom(int firstLane) => firstLane <= 0 ? AllBits : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Select(float mask, float whereSet, float whereClear) => BitConverter.SingleToInt32Bits(mask) != 0 ? whereSet : whereClear;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(float value) => value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float GreaterThan(float a, float b) => a > b ? AllBits : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float IsNaN(float value) => float.IsNaN(value) ? AllBits : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool HasNaN(float value) => float.IsNaN(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Or(float a, float b) => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(a) | BitConverter.SingleToInt32Bits(b));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float AndNot(float a, float b) => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(a) & ~BitConverter.SingleToInt32Bits(b));
    public static float Indices => 0f;
    // One lane per register: the pair (low, high) is two consecutive floats.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Even(float low, float high) => low;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Odd(float low, float high) => high;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreInt32(float value, ref int destination) => destination = (int)value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float LoadInt32(ref int source) => source;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Equal(float a, float b) => a == b ? AllBits : 0f;
    // One lane per register: a then b are the two consecutive floats.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float ZipLow(float a, float b) => a;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float ZipHigh(float a, float b) => b;
    private static float AllBits => BitConverter.Int32BitsToSingle(-1);
}

/// <summary>The register widths a kernel can run at; <see cref="Simd.Best"/> is what this process's CPU and runtime settings allow.</summary>
public enum SimdWidth
{
    /// <summary>One float at a time (DOTNET_EnableHWIntrinsic=0).</summary>
    Scalar = 1,

    /// <summary>128-bit vectors (SSE, NEON; DOTNET_EnableAVX2=0).</summary>
    Vector128 = 4,

    /// <summary>256-bit vectors (AVX2; DOTNET_EnableAVX512=0).</summary>
    Vector256 = 8,

    /// <summary>512-bit vectors (AVX-512).</summary>
    Vector512 = 16,
}

/// <summary>Which SIMD path the kernels take in this process.</summary>
public static class Simd
{
    /// <summary>The widest register width the hardware accelerates here.</summary>
    public static SimdWidth Best { get; } =
        Vector512.IsHardwareAccelerated ? SimdWidth.Vector512 :
        Vector256.IsHardwareAccelerated ? SimdWidth.Vector256 :
        Vector128.IsHardwareAccelerated ? SimdWidth.Vector128 : SimdWidth.Scalar;

    /// <summary>
    /// The widest width up to <paramref name="width"/> whose register holds no more than <paramref name="floats"/>: for
    /// kernels that work a row at a time, so that a short row still takes registers.
    /// </summary>
    internal static SimdWidth NoWiderThan(SimdWidth width, int floats)
    {
        while (width > SimdWidth.Scalar && (int)width > floats) width = width == SimdWidth.Vector128 ? SimdWidth.Scalar : (SimdWidth)((int)width / 2);
        return width;
    }
}
