using System.Runtime.Intrinsics;
using MlNetConv.Core.Kernels;

namespace MlNetConv.Core.Tests;

/// <summary>CI runs the suite with DOTNET_EnableAVX512=0, DOTNET_EnableAVX2=0 and DOTNET_EnableHWIntrinsic=0; this checks the switch took.</summary>
public class SimdPathTests
{
    [Fact]
    public void TheKernelsTakeThePathTheRuntimeSettingsAllow()
    {
        SimdWidth best = Simd.Best;
        if (Environment.GetEnvironmentVariable("DOTNET_EnableHWIntrinsic") == "0") Assert.Equal(SimdWidth.Scalar, best);
        else if (Environment.GetEnvironmentVariable("DOTNET_EnableAVX2") == "0") Assert.Equal(SimdWidth.Vector128, best);
        else if (Environment.GetEnvironmentVariable("DOTNET_EnableAVX512") == "0") Assert.Equal(SimdWidth.Vector256, best);
        Assert.Equal(Vector512.IsHardwareAccelerated, best == SimdWidth.Vector512);
    }
}
