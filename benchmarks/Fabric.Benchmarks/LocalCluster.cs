using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using Fabric.Tests.Shared;

namespace Fabric.Benchmarks;

/// <summary>
/// A small launcher of the built <c>fabric up --nodes K</c> for the runtime probes (<see cref="IdleCpu"/>,
/// <see cref="FailureDetectorProbe"/>): a temp data dir, free ports, extra <c>fabric up</c> arguments (e.g.
/// <c>--hocon FILE</c> to try other settings without a rebuild, <c>--restart never</c>), node pids from the children's
/// command lines, and the members view of one node. The scale harness keeps its own (it reads more of the output).
/// </summary>
internal sealed class LocalCluster : IAsyncDisposable
{
    private readonly Process _up;
    private readonly StringBuilder _log = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };
    public DirectoryInfo Dir { get; }
    public IReadOnlyList<(string Name, string Http)> Nodes { get; private set; } = [];
    public TimeSpan FormedIn { get; private set; }

    private LocalCluster(Process up, DirectoryInfo dir) { _up = up; Dir = dir; }

    public int UpPid => _up.Id;
    public string Log { get { lock (_log) return _log.ToString(); } }

    /// <summary>The built fabric binary; FABRIC_BINARY points at another (e.g. a saved copy of the build before a change).</summary>
    public static string Binary()
    {
        if (Environment.GetEnvironmentVariable("FABRIC_BINARY") is { Length: > 0 } other) return other;
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Fabric.sln")))
                return Path.Combine(d.FullName, "src", "Nodes", "bin", "Release", "net10.0", "fabric");
        throw new InvalidOperationException("no Fabric.sln above the benchmark's binary");
    }

    public static async Task<LocalCluster> StartAsync(int nodes, IEnumerable<string> extraArgs)
    {
        var binary = Binary();
        if (!File.Exists(binary)) throw new InvalidOperationException($"{binary} does not exist: dotnet build src/Nodes -c Release first");
        var dir = Directory.CreateTempSubdirectory("fabric-probe-");
        var (basePort, vtepPort) = FreePorts.ForLocalCluster(nodes);
        var psi = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in new[] { "up", "--nodes", $"{nodes}", "--data", dir.FullName, "--base-port", $"{basePort}", "--vtep-port", $"{vtepPort}", "--timeout", "90" }.Concat(extraArgs))
            psi.ArgumentList.Add(a);
        var process = Process.Start(psi) ?? throw new InvalidOperationException("fabric up did not start");
        var up = new LocalCluster(process, dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                if (!process.HasExited) { _ = Signal(process.Id, 15); process.WaitForExit(TimeSpan.FromSeconds(30)); }
            }
            catch (InvalidOperationException) { } // disposed: DisposeAsync already stopped it
            try { if (dir.Exists) dir.Delete(true); } catch (IOException) { }
        };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (up._log) up._log.AppendLine($"{DateTime.UtcNow:HH:mm:ss.fff} {e.Data}"); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (up._log) up._log.AppendLine("stderr: " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var clusterFile = Path.Combine(dir.FullName, "cluster.json");
        var sw = Stopwatch.StartNew();
        while (!File.Exists(clusterFile))
        {
            if (process.HasExited || sw.Elapsed > TimeSpan.FromSeconds(120))
            {
                await up.DisposeAsync();
                throw new InvalidOperationException($"fabric up did not form a cluster:\n{up.Log}");
            }
            await Task.Delay(200);
        }
        up.FormedIn = sw.Elapsed;
        var json = JsonNode.Parse(await File.ReadAllTextAsync(clusterFile))!;
        up._http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", json["token"]!.GetValue<string>());
        up.Nodes = json["nodes"]!.AsArray().Select(n => (n!["name"]!.GetValue<string>(), n["http"]!.GetValue<string>())).ToArray();
        return up;
    }

    /// <summary>Node name → pid, from the children of fabric up and their command lines (which name the node's config).</summary>
    public Dictionary<string, int> NodePids()
    {
        var result = new Dictionary<string, int>();
        foreach (var d in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(d), out var pid)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(d, "stat"));
                var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (f[0] is "Z" or "X" || int.Parse(f[1], CultureInfo.InvariantCulture) != _up.Id) continue;
                var cmd = File.ReadAllText(Path.Combine(d, "cmdline")).Replace('\0', ' ');
                foreach (var n in Nodes)
                    if (cmd.Contains(n.Name + ".", StringComparison.Ordinal) || cmd.EndsWith(n.Name + " ", StringComparison.Ordinal)) result[n.Name] = pid;
            }
            catch (IOException) { }
        }
        return result;
    }

    /// <summary>(name, status, reachable) of every member, as node <paramref name="asking"/> sees them; null when it does not answer.</summary>
    public async Task<List<(string Name, string Status, bool Reachable)>?> MembersAsync(int asking)
    {
        try
        {
            var members = await _http.GetFromJsonAsync<JsonArray>($"{Nodes[asking].Http.TrimEnd('/')}/cluster/members");
            return members!.Select(m => (m!["name"]!.GetValue<string>(), m["status"]!.GetValue<string>(), m["reachable"]!.GetValue<bool>())).ToList();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException) { return null; }
    }

    /// <summary>
    /// POSTs <paramref name="body"/> to node <paramref name="node"/> and returns the created object; a 503 with
    /// Retry-After (a node not yet a member, backpressure) is waited out, up to 30 times.
    /// </summary>
    public async Task<JsonNode> PostAsync(int node, string path, object body)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var r = await _http.PostAsJsonAsync($"{Nodes[node].Http.TrimEnd('/')}{path}", body);
            var text = await r.Content.ReadAsStringAsync();
            if (r.StatusCode == System.Net.HttpStatusCode.Created || r.StatusCode == System.Net.HttpStatusCode.OK) return JsonNode.Parse(text)!;
            if (r.StatusCode != System.Net.HttpStatusCode.ServiceUnavailable || attempt >= 30)
                throw new InvalidOperationException($"POST {path}: {(int)r.StatusCode} {text}");
            await Task.Delay(r.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_up.HasExited)
        {
            _ = Signal(_up.Id, 15);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try { await _up.WaitForExitAsync(wait.Token); } catch (OperationCanceledException) { _up.Kill(entireProcessTree: true); }
        }
        var keep = Environment.GetEnvironmentVariable("FABRIC_PROBE_KEEP");
        if (keep is not null)
            foreach (var f in Dir.GetFiles("node-*.log")) f.CopyTo(Path.Combine(keep, f.Name), overwrite: true);
        _up.Dispose();
        _http.Dispose();
        try { Dir.Delete(true); } catch (IOException) { }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static extern int Signal(int pid, int signal);

    public static string? Value(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    /// <summary>The arguments after <c>--</c>: handed to <c>fabric up</c> as they are.</summary>
    public static string[] UpArgs(string[] args)
    {
        var i = Array.IndexOf(args, "--");
        return i >= 0 ? args[(i + 1)..] : [];
    }
}
