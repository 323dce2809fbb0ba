using System.Runtime.InteropServices;
using MlNetConv.Core.Kernels;

namespace MlNetConv.Core.Tests;

/// <summary>
/// CI runs the suite with DOTNET_EnableAVX512=0, DOTNET_EnableAVX2=0 and DOTNET_EnableHWIntrinsic=0; this checks that the
/// width the engine reports is the one the CPU (as the operating system describes it, not as the runtime does) and those
/// switches allow, so a switch that did not take, or a wrong width choice, fails here.
/// </summary>
public class SimdPathTests
{
    [Fact]
    public void TheKernelsTakeThePathTheCpuAndTheRuntimeSwitchesAllow()
    {
        static bool Off(string name) => Environment.GetEnvironmentVariable(name) == "0";
        SimdWidth best = Simd.Best;
        if (Off("DOTNET_EnableHWIntrinsic"))
        {
            Assert.Equal(SimdWidth.Scalar, best);
            return;
        }
        if (CpuFlags() is not { } flags)
        {
            // No /proc/cpuinfo (not Linux): at least a vector path on the 64-bit CPUs .NET runs on.
            Assert.NotEqual(SimdWidth.Scalar, best);
            return;
        }
        if (RuntimeInformation.ProcessArchitecture == Architecture.Arm64)
        {
            Assert.Equal(flags.Contains("asimd") ? SimdWidth.Vector128 : SimdWidth.Scalar, best);
            return;
        }
        // x64: .NET accelerates Vector512 with AVX-512 F+BW+CD+DQ+VL, Vector256 with AVX2; EnableAVX2=0 also turns AVX-512 off.
        bool avx512 = new[] { "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl" }.All(flags.Contains);
        bool avx2 = flags.Contains("avx2");
        SimdWidth expected =
            avx512 && !Off("DOTNET_EnableAVX512") && !Off("DOTNET_EnableAVX2") ? SimdWidth.Vector512 :
            avx2 && !Off("DOTNET_EnableAVX2") ? SimdWidth.Vector256 :
            SimdWidth.Vector128;
        // The runtime keeps 256-bit vectors on AVX-512 CPUs that slow down at 512 bits (older Intel) unless told otherwise.
        if (expected == SimdWidth.Vector512 && best == SimdWidth.Vector256 && !System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
            expected = SimdWidth.Vector256;
        Assert.Equal(expected, best);
    }

    // The CPU's feature flags as the Linux kernel lists them ("flags" on x64, "Features" on Arm64), or null.
    private static HashSet<string>? CpuFlags()
    {
        if (!File.Exists("/proc/cpuinfo")) return null;
        string? line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal) || l.StartsWith("Features", StringComparison.Ordinal));
        return line is null ? null : [.. line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)];
    }
}
