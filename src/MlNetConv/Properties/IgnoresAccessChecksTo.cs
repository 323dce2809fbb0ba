// ML.NET 5.0.1 keeps the model-persistence API (ModelSaveContext members, ModelLoadContext, VersionInfo,
// LoadableClass, RowToRowTransformerBase's protected surface) internal. This library compiles against publicized
// copies of those assemblies, and this attribute lets the runtime accept the calls. Pin Microsoft.ML exactly:
// internals can change in any release.
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Core")]
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Data")]

namespace System.Runtime.CompilerServices
{
    /// <summary>Honoured by CoreCLR (looked up by name): lets this assembly access the named assembly's non-public members.</summary>
    [AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
    internal sealed class IgnoresAccessChecksToAttribute(string assemblyName) : Attribute
    {
        public string AssemblyName { get; } = assemblyName;
    }
}
