using System.Diagnostics;
using Fabric.Nodes.Cli;

namespace Fabric.Chaos.Tests.Harness;

/// <summary>Runs a command to completion with a deadline; the suite's only way to touch the host (ip, ping, pg_ctl).</summary>
public static class Shell
{
    public sealed record Result(int ExitCode, string Output, string Error)
    {
        public Result Check(string what)
            => ExitCode == 0 ? this : throw new InvalidOperationException($"{what} failed ({ExitCode}): {Error.Trim()} {Output.Trim()}");
    }

    public static async Task<Result> RunAsync(string file, IEnumerable<string> args, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(Tools.Find(file) ?? file)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {(timeout ?? TimeSpan.FromSeconds(30)).TotalSeconds:0} s");
        }
        return new Result(p.ExitCode, await stdout, await stderr);
    }

    /// <summary>kill(2): sends <paramref name="signal"/> (2 SIGINT, 9 SIGKILL, 15 SIGTERM) to <paramref name="pid"/>; true when sent.</summary>
    public static bool Signal(int pid, int signal) => Kill(pid, signal) == 0;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);

    /// <summary><c>ip ARGS</c>.</summary>
    public static Task<Result> Ip(params string[] args) => RunAsync(Netns.FindIp() ?? "ip", args);

    /// <summary>A command inside network namespace <paramref name="ns"/>.</summary>
    public static Task<Result> InNamespace(string ns, TimeSpan timeout, params string[] command)
        => RunAsync(Netns.FindIp() ?? "ip", ["netns", "exec", ns, .. command], timeout);
}
