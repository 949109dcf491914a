using Fabric.Dataplane.Ports;

namespace Fabric.Dataplane.Tests.Engine;

/// <summary>A test that needs root (TAP, network namespaces): skipped, with the reason, anywhere else.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute(params string[] tools)
    {
        if (TapPort.Unavailable() is { } why) { Skip = why; return; }
        foreach (var tool in tools)
            if (!ExistsOnPath(tool)) { Skip = $"'{tool}' is not installed (scripts/setup.sh installs it as root)"; return; }
    }

    private static bool ExistsOnPath(string tool)
        => (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':')
            .Any(d => File.Exists(Path.Combine(d, tool)));
}
