using Akka.Actor;
using Akka.Cluster;
using Fabric.Actors.Node;
using Fabric.Dataplane.Tracing;
using Endpoint = Fabric.Actors.Intent.Endpoint;

namespace Fabric.Actors.Tracing;

/// <summary>What to trace: probes from <paramref name="Endpoint"/> (in the network with <paramref name="Vni"/>).</summary>
public sealed record TraceSpec(Endpoint Endpoint, int Vni, string Destination, string Protocol, int Port, int Count, bool StopAtLastHop);

/// <param name="Resolution">How the endpoint's node found the destination MAC (gateway, neighbour, arp).</param>
/// <param name="Silent">Members that did not answer the collection in time (their hops are missing).</param>
public sealed record TraceResult(string Endpoint, string Node, string Destination, string Protocol, int? Port, bool StopAtLastHop, string? Resolution,
    IReadOnlyList<TraceProbe> Probes, IReadOnlyList<string> Silent, double ElapsedMs);

/// <summary>Why a trace could not start.</summary>
public sealed class TraceRefusedException(string code, string message, bool timeout = false) : Exception(message)
{
    public string Code { get; } = code;
    public bool Timeout { get; } = timeout;
}

/// <summary>
/// Runs one trace for the node that took the API call: asks the endpoint's node to inject the probes, then asks every
/// member for its hops until every probe (and its answer, when one is due) has reached an end, or the budget (under
/// 1 s) runs out; then assembles the verdicts.
/// </summary>
public static class TraceCoordinator
{
    public static readonly TimeSpan Budget = TimeSpan.FromMilliseconds(900);
    private static readonly TimeSpan AskEach = TimeSpan.FromMilliseconds(300);
    private static readonly int[] PollAfterMs = [20, 60, 150, 300, 500, 700];

    public static async Task<TraceResult> RunAsync(FabricRuntime rt, TraceSpec spec, CancellationToken ct)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var host = rt.FindMember(spec.Endpoint.Node)
            ?? throw new TraceRefusedException("endpoint-node-absent", $"endpoint {spec.Endpoint.Id} is placed on node {spec.Endpoint.Node}, which is not in the cluster");
        var probes = new int[spec.Count];
        for (int k = 0; k < probes.Length; k++) probes[k] = Random.Shared.Next(1, TraceMark.ProbeMask + 1);

        ProbesInjected injected;
        try
        {
            injected = await rt.System.ActorSelection($"{host.Address}/user/{TraceActor.Name}")
                .Ask<ProbesInjected>(new InjectProbes(spec.Endpoint.Mac.ToString(), spec.Vni, spec.Destination, spec.Protocol, spec.Port, probes,
                    spec.StopAtLastHop), TimeSpan.FromSeconds(1), ct);
        }
        catch (AskTimeoutException)
        {
            throw new TraceRefusedException("node-timeout", $"node {spec.Endpoint.Node} did not take the probes within 1 s", timeout: true);
        }
        if (injected.Error is { } error) throw new TraceRefusedException("trace-not-injected", $"node {injected.Node}: {error}");

        var answerExpected = !spec.StopAtLastHop && spec.Protocol is "icmp" or "tcp";
        var rows = new Dictionary<string, IReadOnlyList<TraceHopRow>>();
        var silent = new List<string>();
        var injectedAt = started.Elapsed;
        foreach (var after in PollAfterMs)
        {
            var wait = injectedAt + TimeSpan.FromMilliseconds(after) - started.Elapsed;
            if (wait > TimeSpan.Zero) await Task.Delay(wait, ct);
            silent = await CollectAsync(rt, probes, rows, Budget - started.Elapsed, ct);
            var all = rows.Values.SelectMany(r => r).ToArray();
            if (probes.All(p => TraceAssembler.Complete(all.Where(r => r.Probe == p && !r.Reply).ToArray(),
                    all.Where(r => r.Probe == p && r.Reply).ToArray(), answerExpected)))
                break;
            if (started.Elapsed >= Budget) break;
        }
        var hops = rows.Values.SelectMany(r => r).ToArray();
        return new TraceResult(spec.Endpoint.Id, spec.Endpoint.Node, spec.Destination, spec.Protocol, spec.Protocol == "icmp" ? null : spec.Port,
            spec.StopAtLastHop, injected.Resolution, probes.Select(p => TraceAssembler.Probe(p, hops)).ToArray(), silent, started.Elapsed.TotalMilliseconds);
    }

    /// <summary>Asks every member for its hops at once; keeps each answer, returns who did not answer.</summary>
    private static async Task<List<string>> CollectAsync(FabricRuntime rt, int[] probes, Dictionary<string, IReadOnlyList<TraceHopRow>> rows,
        TimeSpan left, CancellationToken ct)
    {
        var timeout = left < AskEach ? (left > TimeSpan.FromMilliseconds(50) ? left : TimeSpan.FromMilliseconds(50)) : AskEach;
        var members = rt.Node.Cluster.State.Members.Where(m => m.Status == MemberStatus.Up).ToArray();
        var asks = members.Select(async m =>
        {
            var name = NodeIdentity.Of(m)?.Name ?? m.Address.ToString();
            try
            {
                var listing = await rt.System.ActorSelection($"{m.Address}/user/{TraceActor.Name}").Ask<TraceHopListing>(new GetTraceHops(probes), timeout, ct);
                return (name, listing.Hops);
            }
            catch (AskTimeoutException)
            {
                return (name, (IReadOnlyList<TraceHopRow>?)null);
            }
        }).ToArray();
        var silent = new List<string>();
        foreach (var (name, hops) in await Task.WhenAll(asks))
        {
            if (hops is null) silent.Add(name);
            else rows[name] = hops;
        }
        return silent;
    }
}
