using System.Runtime.InteropServices;

namespace Fabric.Nodes.Cli;

/// <summary>
/// Turns SIGINT, SIGTERM and SIGQUIT (and, when asked, the disappearance of a parent process) into one
/// cancellation token, and keeps the runtime from terminating the process so that the command can stop
/// gracefully and choose its exit code.
/// </summary>
public sealed class ShutdownSignal : IDisposable
{
    /// <summary>Set by <c>fabric up</c> in each child's environment: the pid of the launcher.</summary>
    public const string ParentPidVariable = "FABRIC_PARENT_PID";

    private readonly CancellationTokenSource _cts = new();
    private readonly List<PosixSignalRegistration> _registrations = [];
    private Timer? _parentWatch;

    public CancellationToken Token => _cts.Token;

    /// <summary>Why the token was cancelled ("SIGTERM", "parent process 1234 is gone", ...).</summary>
    public string? Reason { get; private set; }

    public static ShutdownSignal Listen()
    {
        var s = new ShutdownSignal();
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGQUIT })
            s._registrations.Add(PosixSignalRegistration.Create(signal, ctx =>
            {
                ctx.Cancel = true; // we stop on our own terms
                s.Trigger(ctx.Signal.ToString());
            }));
        return s;
    }

    /// <summary>Cancels the token when the process named by FABRIC_PARENT_PID (if set) is gone.</summary>
    public ShutdownSignal WatchParentFromEnvironment(TimeSpan? interval = null)
    {
        var text = Environment.GetEnvironmentVariable(ParentPidVariable);
        if (string.IsNullOrWhiteSpace(text) || !int.TryParse(text, out var pid) || pid <= 0) return this;
        var period = interval ?? TimeSpan.FromMilliseconds(500);
        _parentWatch = new Timer(_ =>
        {
            if (!ProcessIsAlive(pid)) Trigger($"parent process {pid} is gone");
        }, null, TimeSpan.Zero, period);
        return this;
    }

    public void Trigger(string reason)
    {
        lock (_cts)
        {
            if (_cts.IsCancellationRequested) return;
            Reason = reason;
        }
        try { _cts.Cancel(); } catch (ObjectDisposedException) { }
    }

    /// <summary>True while the process runs (a zombie, exited but not yet reaped, counts as gone).</summary>
    public static bool ProcessIsAlive(int pid)
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                // pid (comm) state ...: comm may contain spaces and parentheses, so read after the last ')'.
                var close = stat.LastIndexOf(')');
                var state = close >= 0 && close + 2 < stat.Length ? stat[close + 2] : '?';
                return state is not ('Z' or 'X');
            }
            catch (IOException) { return false; }
            catch (UnauthorizedAccessException) { return true; }
        }
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    /// <summary>Sends SIGTERM (Unix); false when the process is already gone or this is not Unix.</summary>
    public static bool Terminate(int pid)
        => !OperatingSystem.IsWindows() && Kill(pid, 15) == 0;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    public void Dispose()
    {
        _parentWatch?.Dispose();
        foreach (var r in _registrations) r.Dispose();
        _cts.Dispose();
    }
}
