using System.Diagnostics;
using System.Text;
using Fabric.Dataplane.Ports;

namespace Fabric.Dataplane.Tests.Engine;

/// <summary>
/// Running real tools inside network namespaces, for the root-only tests of both test projects (this file is linked
/// into Fabric.Actors.Tests). A namespace made with <see cref="Create"/> is deleted when disposed.
/// </summary>
public static class Netns
{
    /// <summary>Runs <paramref name="cmd"/> inside <paramref name="ns"/> to the end: exit code and stdout + stderr.</summary>
    public static (int Code, string Output) Exec(string ns, params string[] cmd) => TapPort.Run("ip", ["netns", "exec", ns, .. cmd]);

    /// <summary>A namespace that no port owns (TapPort leaves an existing namespace in place), removed on dispose.</summary>
    public static IDisposable Create(string ns)
    {
        TapPort.TryRun("ip", "netns", "delete", ns);
        var (code, output) = TapPort.Run("ip", "netns", "add", ns);
        if (code != 0) throw new IOException($"ip netns add {ns} failed: {output}");
        return new Owned(ns);
    }

    private sealed class Owned(string ns) : IDisposable
    {
        public void Dispose() => TapPort.TryRun("ip", "netns", "delete", ns);
    }

    /// <summary>Starts <paramref name="cmd"/> inside <paramref name="ns"/> in the background, collecting its output.</summary>
    public static BackgroundProcess Start(string ns, params string[] cmd) => new(["netns", "exec", ns, .. cmd]);

    /// <summary>A tool running in the background (tcpdump, an iperf3 server); stopped (SIGINT, then kill) on dispose.</summary>
    public sealed class BackgroundProcess : IDisposable
    {
        private readonly Process _p;
        private readonly StringBuilder _out = new();

        public BackgroundProcess(string[] ipArgs)
        {
            var psi = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in ipArgs) psi.ArgumentList.Add(a);
            _p = Process.Start(psi)!;
            _p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_out) _out.AppendLine(e.Data); };
            _p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_out) _out.AppendLine(e.Data); };
            _p.BeginOutputReadLine();
            _p.BeginErrorReadLine();
        }

        public string Output { get { lock (_out) return _out.ToString(); } }
        public bool Exited => _p.HasExited;

        /// <summary>Waits for the tool to end by itself (tcpdump -c N, iperf3 -s -1); false when it is still running.</summary>
        public bool WaitForExit(TimeSpan timeout) => _p.WaitForExit(timeout);

        /// <summary>Interrupts the tool (as Ctrl-C would, so tcpdump flushes) and waits for it; returns what it printed.</summary>
        public string Stop(TimeSpan? timeout = null)
        {
            if (!_p.HasExited)
            {
                TapPort.TryRun("kill", "-INT", _p.Id.ToString());
                foreach (var child in ChildPids(_p.Id)) TapPort.TryRun("kill", "-INT", child.ToString());
                if (!_p.WaitForExit(timeout ?? TimeSpan.FromSeconds(3))) _p.Kill(entireProcessTree: true);
            }
            _p.WaitForExit();
            return Output;
        }

        // `ip netns exec` execs the tool in place, so normally there is no child; this covers shells and wrappers.
        private static IEnumerable<int> ChildPids(int pid)
        {
            var path = $"/proc/{pid}/task/{pid}/children";
            return File.Exists(path) ? File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse) : [];
        }

        public void Dispose() { Stop(); _p.Dispose(); }
    }
}
