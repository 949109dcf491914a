using Fabric.Nodes.Cli;

namespace Fabric.Chaos.Tests.Harness;

/// <summary>
/// A chaos case: it needs root, the <c>ip</c> command (network namespaces, a bridge, veth) and the named tools.
/// Anywhere else it skips and says why; it never passes without having run.
/// </summary>
public sealed class ChaosFactAttribute : FactAttribute
{
    public ChaosFactAttribute(params string[] tools)
    {
        if (Netns.Unsupported() is { } why) { Skip = why; return; }
        foreach (var tool in tools)
            if (Tools.Find(tool) is null) { Skip = $"'{tool}' is not installed (scripts/setup.sh installs it as root)"; return; }
    }
}

/// <summary>Finds command-line tools on PATH (and in the sbin folders, which a non-login root shell may lack).</summary>
public static class Tools
{
    public static string? Find(string tool)
        => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/usr/bin", "/sbin", "/bin"])
            .Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);
}
