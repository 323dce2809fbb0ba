namespace MlNetConv.Benchmarks;

/// <summary>The processor the figures come from, as <c>lscpu</c> names it: sessions draw different kinds.</summary>
internal static class Machine
{
    /// <summary>"model name (family F, model M)" from /proc/cpuinfo, or "unknown processor" where there is none.</summary>
    public static string Processor()
    {
        if (!File.Exists("/proc/cpuinfo")) return "unknown processor";
        string[] lines = File.ReadAllLines("/proc/cpuinfo");
        string Field(string name) =>
            lines.FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal) && l[name.Length..].TrimStart().StartsWith(':'))?.Split(':', 2)[1].Trim() ?? "?";
        return $"{Field("model name")} (family {Field("cpu family")}, model {Field("model")})";
    }
}
