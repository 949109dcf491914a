using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using Fabric.Actors.Alarms;
using Fabric.Actors.Cluster;
using Fabric.Actors.Configuration;
using Fabric.Actors.Intent;
using Fabric.Actors.Locations;
using Fabric.Actors.Replication;
using Fabric.Actors.Vrf;
using Fabric.Actors.Vtep;
using Fabric.Dataplane.Engine;
using Fabric.Dataplane.Ports;
using Fabric.Dataplane.Tables;

namespace Fabric.Actors.Node;

/// <summary>A node's replica of the configuration: the networks it holds with their endpoints, at <see cref="Revision"/>.</summary>
public sealed record ReplicaView(FabricConfiguration State, long Revision);

/// <summary>A cluster member as the API shows it.</summary>
public sealed record MemberView(string Name, string Address, string Status, string? Vtep, string? Http, bool Reachable);

/// <summary>
/// A configuration request cannot be served now; retry later (the HTTP endpoint answers 503 with <see cref="Code"/>):
/// <c>configuration-unavailable</c> (no answer in time), <c>minority-partition</c> / <c>not-a-member</c> (this node may
/// not write, see <see cref="WriteQuorum"/>), <c>store-unavailable</c> (the journal is down; see <see cref="StoreUnavailable"/>).
/// </summary>
public sealed class ConfigurationUnavailableException(string message, string code = ConfigurationUnavailableException.NoAnswer) : Exception(message)
{
    public const string NoAnswer = "configuration-unavailable";
    public const string StoreDown = "store-unavailable";

    public string Code { get; } = code;
}

/// <summary>
/// One running Fabric node: the cluster member, the configuration singleton (hosted by the oldest node), this
/// node's actors (config replica, locations, VTEPs, ports, snapshot publisher, event pump, query), and the
/// dataplane engine with its underlay socket. The management endpoint and the command line talk to this.
/// </summary>
public sealed class FabricRuntime : IAsyncDisposable
{
    private FabricRuntime(FabricNode node, NodeIdentity self, SnapshotHolder holder, DataplaneGroup? engine, UdpUnderlay? underlay,
        IActorRef configuration, IActorRef replica, IActorRef locations, TokenTable tokens)
    {
        Node = node; Self = self; Snapshots = holder; Engine = engine; Underlay = underlay;
        Configuration = configuration; Replica = replica; Locations = locations; Tokens = tokens;
    }

    public FabricNode Node { get; }
    public ActorSystem System => Node.System;
    public NodeIdentity Self { get; }
    public SnapshotHolder Snapshots { get; }
    public DataplaneGroup? Engine { get; }
    public UdpUnderlay? Underlay { get; }
    /// <summary>Proxy to the configuration singleton, wherever it runs.</summary>
    public IActorRef Configuration { get; }
    public IActorRef Replica { get; }
    public IActorRef Locations { get; }
    /// <summary>The cluster's API tokens as this node's replica has them (every node holds all of them).</summary>
    public TokenTable Tokens { get; }
    /// <summary>How long this node waits for the configuration (or another actor) to answer before giving up.</summary>
    public TimeSpan AskTimeout { get; init; } = DefaultAskTimeout;

    /// <summary>The <see cref="AskTimeout"/> a node runs with unless told otherwise.</summary>
    public static readonly TimeSpan DefaultAskTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How far apart node clocks may be (NTP keeps them within milliseconds; this is the assumption). A write's
    /// deadline is <see cref="AskTimeout"/> minus this, so the singleton refuses it before this node stops waiting
    /// even when the singleton's clock is behind ours by up to this much.
    /// </summary>
    public TimeSpan ClockSkewAllowance { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Starts a node. <paramref name="httpUrl"/> is advertised to the cluster so any node can point to any other.</summary>
    public static FabricRuntime Start(Config config, string httpUrl = "")
    {
        var settings = FabricSettings.From(config);
        var name = string.IsNullOrWhiteSpace(settings.NodeName) ? Environment.MachineName.ToLowerInvariant() : settings.NodeName;
        var self = new NodeIdentity(name, new VtepEndpoint(settings.VtepAddress, (ushort)settings.VtepPort), httpUrl);
        var roles = string.Join(", ", self.Roles.Select(FabricHocon.Quote));
        var full = ConfigurationFactory.ParseString($"akka.cluster.roles = [{roles}]").WithFallback(config);
        var dp = full.GetConfig("fabric.dataplane");
        var enabled = dp?.GetBoolean("enabled", true) ?? true;

        var holder = new SnapshotHolder();
        UdpUnderlay? underlay = null;
        DataplaneGroup? engine = null;
        if (enabled)
        {
            var options = DataplaneOptions(dp);
            engine = DataplaneGroup.Create(holder, self.Vtep, new UnderlayOptions
            {
                SourcePorts = dp?.GetInt("source-ports", 4) ?? 4, Gso = options.Offloads, Gro = options.Offloads,
            }, options, options.Threads);
            underlay = engine.Underlays[0];
            engine.Start();
        }

        FabricNode node;
        try
        {
            node = FabricNode.Start(full);
        }
        catch
        {
            // The socket and the thread must not outlive a node that never started.
            engine?.Dispose();
            underlay?.Dispose();
            throw;
        }
        var system = node.System;
        // The singleton takes the configuration lease before it starts and checks it before every write; a node that
        // finds no cluster may form it again through the same lease (src/Actors/Cluster/ConfigurationLease.cs).
        var singleton = ClusterSingletonManagerSettings.Create(system);
        var leaseUsage = ConfigurationLease.Of(full);
        Akka.Coordination.Lease? lease = null;
        if (leaseUsage is not null)
        {
            singleton = singleton.WithLeaseSettings(leaseUsage);
            lease = ConfigurationLease.For(system, leaseUsage, "configuration");
        }
        var manager = system.ActorOf(ClusterSingletonManager.Props(
            ConfigurationActor.PropsWithBackoff(settings.ConfigurationPersistenceId, mayWrite: lease is null ? null : lease.CheckLease,
                limits: ConfigurationLimits.From(full)),
            PoisonPill.Instance, singleton), "configuration");
        if (lease is not null)
        {
            ConfigurationLease.EnsureSameLease(system, manager, lease);
            if (ConfigurationLease.MayReform(node))
                system.ActorOf(ClusterReformActor.Props(ReformSettings.From(full), lease), "cluster-reform");
        }
        var proxy = system.ActorOf(ClusterSingletonProxy.Props("/user/configuration",
            ClusterSingletonProxySettings.Create(system).WithBufferSize(1000)), "configuration-proxy");

        var fdbCapacity = dp?.GetInt("fdb-capacity", 16384) ?? 16384;
        var locations = system.ActorOf(LocationDirectoryActor.Props(VniLocationsActor.StartRegion(system)), "locations");
        // Alarms (duplicate MAC, address conflict, path MTU) before the VTEPs: it hears what they raise from the start.
        var alarms = system.ActorOf(AlarmActor.Props(name, locations,
            full.GetTimeSpan("fabric.alarms.address-conflict-hold", TimeSpan.FromMinutes(5))), "alarms");
        var pathMtu = PathMtuSettings.From(full);
        if (engine is not null && pathMtu.Enabled) system.ActorOf(PathMtuActor.Props(self, alarms, pathMtu), "path-mtu");
        var publisher = system.ActorOf(SnapshotPublisherActor.Props(holder, self.Vtep), "snapshot");
        // Route tables: one sharded entity per table, owned by one node at a time.
        var vrfs = ClusterSharding.Get(system).Start(VrfActor.TypeName, id => VrfActor.Props(id),
            ClusterShardingSettings.Create(system), new VrfMessageExtractor());
        var vteps = system.ActorOf(VtepManagerActor.Props(self, publisher, locations, vrfs, fdbCapacity), "vteps");
        var ports = system.ActorOf(PortManagerActor.Props(self, engine, [vteps, publisher], dp?.GetInt("tap-mtu", 1450) ?? 1450)
            .WithDispatcher("fabric.ports.dispatcher"), "ports"); // blocking `ip` calls: off the thread pool (hocon/fabric.conf)
        var tokens = new TokenTable();
        var tokenTable = system.ActorOf(TokenTableActor.Props(tokens), "tokens");
        var replica = system.ActorOf(ConfigurationReplicaActor.Props(proxy, name, [ports, vteps, tokenTable], ReplicationSettings.From(full)), "config-replica");
        if (engine is not null)
            system.ActorOf(DataplaneEventPumpActor.Props(engine.Events, vteps, dp?.GetTimeSpan("event-drain-interval", TimeSpan.FromMilliseconds(5))),
                "dataplane-events");
        system.ActorOf(NodeQueryActor.Props(name, holder, engine?.Counters, engine is null ? null : () => engine.Events.Lost, engine?.DropSamples), "query");
        // Live trace (issue 12): injects probes here, reads this node's hops, keeps the dataplane's Fabric VTEP list.
        system.ActorOf(Tracing.TraceActor.Props(name, holder, engine), Tracing.TraceActor.Name);

        // Stop the dataplane only after the cluster has been left gracefully.
        CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseActorSystemTerminate, "stop-dataplane", () =>
        {
            engine?.Dispose();
            underlay?.Dispose();
            return Task.FromResult(Akka.Done.Instance);
        });
        return new FabricRuntime(node, self, holder, engine, underlay, proxy, replica, locations, tokens);
    }

    /// <summary>The dataplane thread's options from <c>fabric.dataplane</c> (hocon/fabric.conf says what each one is for).</summary>
    public static EngineOptions DataplaneOptions(Akka.Configuration.Config? dp) => new()
    {
        Cpu = dp?.GetInt("cpu", -1) ?? -1,
        Threads = Math.Clamp(dp?.GetInt("threads", 1) ?? 1, 1, Fabric.Dataplane.Counters.CounterLanes.Max),
        BatchSize = dp?.GetInt("batch-size", 64) ?? 64,
        BusyPollMicroseconds = (int)Math.Clamp(Microseconds(dp, "busy-poll", new EngineOptions().BusyPollMicroseconds), 0, 1_000_000),
        BusyPollYield = dp?.GetBoolean("busy-poll-yield", true) ?? true,
        UnderlayMtu = dp?.GetInt("underlay-mtu", 0) ?? 0,
        DropSamplesPerReason = dp?.GetBoolean("drop-samples.enabled", false) == true ? Math.Clamp(dp.GetInt("drop-samples.per-reason", 16), 1, 4096) : 0,
        Offloads = dp?.GetBoolean("offloads", true) ?? true,
    };

    /// <summary>
    /// A duration in µs, <paramref name="fallback"/> when not set. Akka's HOCON reader knows no microseconds, so "50us"
    /// (or "50µs") is read here; ms, s... by Akka.
    /// </summary>
    private static double Microseconds(Akka.Configuration.Config? c, string path, double fallback)
    {
        if (c is null || !c.HasPath(path)) return fallback;
        var text = c.GetString(path)?.Trim() ?? "";
        foreach (var unit in new[] { "microseconds", "microsecond", "micros", "micro", "us", "µs" })
            if (text.EndsWith(unit, StringComparison.Ordinal)
                && double.TryParse(text[..^unit.Length].Trim(), global::System.Globalization.NumberStyles.Float, global::System.Globalization.CultureInfo.InvariantCulture, out var us))
                return us;
        return c.GetTimeSpan(path, TimeSpan.Zero).TotalMicroseconds;
    }

    /// <summary>Up in the cluster and (when it has one) the dataplane thread running.</summary>
    public bool IsReady => Node.Cluster.SelfMember.Status == MemberStatus.Up && (Engine is null || Engine.Running);

    /// <summary>
    /// Whether this node may send a write now, decided from its own cluster state the way the split brain resolver
    /// would (<see cref="WriteQuorum"/>): a node on the minority side, or not an Up member, is refused at once.
    /// </summary>
    public WriteVerdict WriteVerdict()
    {
        var shuttingDown = System.WhenTerminated.IsCompleted || CoordinatedShutdown.Get(System).ShutdownReason is not null;
        if (shuttingDown) return WriteQuorum.Decide(Self.Name, null, true, []);
        var state = Node.Cluster.State;
        var selfAddress = Node.Cluster.SelfUniqueAddress;
        var unreachable = state.Unreachable.Select(m => m.UniqueAddress).ToHashSet();
        var members = state.Members
            .Select(m => new QuorumMember(NodeIdentity.Of(m)?.Name ?? m.Address.ToString(), m.Address, m.Status, !unreachable.Contains(m.UniqueAddress)))
            .ToArray();
        var self = state.Members.FirstOrDefault(m => m.UniqueAddress.Equals(selfAddress));
        return WriteQuorum.Decide(Self.Name, self?.Status, false, members);
    }

    /// <summary>
    /// Sends a command to the configuration; the answer is CommandAccepted, CommandRejected, CommandFailed,
    /// StoreUnavailable or CommandExpired. Throws <see cref="ConfigurationUnavailableException"/> when this node may not
    /// write (minority side, not a member) or nothing answered in time.
    /// </summary>
    /// <remarks>
    /// The command travels with a deadline (<see cref="Deadlined"/>) a little before this node gives up: if it is
    /// delivered later (buffered by the singleton proxy during a partition or a hand-over), the configuration refuses
    /// it unwritten, so a write the caller was told failed never applies behind its back.
    /// </remarks>
    public async Task<object> ExecuteAsync(ConfigurationCommand command, CancellationToken ct = default)
    {
        if (WriteVerdict() is { IsAllowed: false } refused)
            throw new ConfigurationUnavailableException(refused.Detail, refused.Code!);
        try
        {
            if (command is CreateEndpoints or DeleteEndpoints && BulkTransfer.ItemsOf(command) > BulkTransfer.PartItems)
                return await ExecuteBulkAsync(command, ct);
            return await Configuration.Ask<object>(WithDeadline(command), AskTimeout, ct);
        }
        catch (AskTimeoutException)
        {
            throw new ConfigurationUnavailableException(
                "the configuration store did not answer in time (it may be down or moving to another node); the write may or may not " +
                "have been applied: read the configuration before retrying");
        }
    }

    private Deadlined WithDeadline(ConfigurationCommand command)
    {
        var margin = ClockSkewAllowance < AskTimeout / 2 ? ClockSkewAllowance : AskTimeout / 2;
        return new Deadlined(command, DateTime.UtcNow + AskTimeout - margin);
    }

    /// <summary>
    /// A bulk command larger than one part (see <see cref="BulkTransfer"/>): staged part by part, committed as one
    /// command (atomic, with the deadline), and a large answer fetched part by part, so that no message outgrows
    /// Akka.Remote's frame. Answers as <see cref="ExecuteAsync"/> does, the accepted events assembled into one
    /// <see cref="CommandAccepted"/>.
    /// </summary>
    private async Task<object> ExecuteBulkAsync(ConfigurationCommand command, CancellationToken ct)
    {
        var parts = BulkTransfer.Split(command);
        var transfer = Guid.NewGuid();
        for (var i = 0; i < parts.Count - 1; i++)
        {
            var staged = await Configuration.Ask<object>(new StageBulkPart(transfer, i, parts[i]), AskTimeout, ct);
            if (staged is not BulkPartStaged) return staged; // overloaded, store unavailable: nothing was written
        }
        var answer = await Configuration.Ask<object>(
            WithDeadline(new CommitBulk(transfer, parts.Count, BulkTransfer.ItemsOf(command), parts[^1])), AskTimeout, ct);
        if (answer is not BulkAccepted accepted) return answer;
        var events = new List<ConfigurationEvent>(accepted.Events);
        while (events.Count < accepted.Events)
        {
            var part = await Configuration.Ask<BulkResultPart>(new FetchBulkResult(transfer, events.Count), AskTimeout, ct);
            if (part.Events is not { Count: > 0 } got)
                throw new ConfigurationUnavailableException(
                    $"the request was applied (revision {accepted.Revision}), but the configuration lost its answer before this node fetched it " +
                    "(it moved or restarted): read the endpoints rather than sending it again");
            events.AddRange(got);
        }
        return new CommandAccepted(events, accepted.Revision);
    }

    /// <summary>The whole configuration from the singleton: it has every acknowledged write. O(fabric): for tests and tools, not for the API.</summary>
    public Task<ConfigurationListing> GetConfigurationAsync(CancellationToken ct = default, TimeSpan? timeout = null)
        => AskConfigurationAsync<ConfigurationListing>(GetConfiguration.Instance, ct, timeout);

    /// <summary>
    /// A targeted read answered by the singleton (it has every acknowledged write): one endpoint, one network, a page.
    /// Throws <see cref="ConfigurationUnavailableException"/> when it does not answer in time or its store is down.
    /// </summary>
    public Task<T> QueryAsync<T>(IConfigurationQuery query, CancellationToken ct = default, TimeSpan? timeout = null) where T : class
        => AskConfigurationAsync<T>(query, ct, timeout);

    private async Task<T> AskConfigurationAsync<T>(object request, CancellationToken ct, TimeSpan? timeout) where T : class
    {
        object answer;
        try
        {
            answer = await Configuration.Ask<object>(request, timeout ?? AskTimeout, ct);
        }
        catch (AskTimeoutException)
        {
            throw new ConfigurationUnavailableException("the configuration store did not answer in time");
        }
        return answer switch
        {
            T t => t,
            StoreUnavailable s => throw new ConfigurationUnavailableException(s.Detail, ConfigurationUnavailableException.StoreDown),
            Status.Failure f => throw new ConfigurationUnavailableException($"the configuration failed: {f.Cause.Message}"),
            _ => throw new InvalidOperationException($"the configuration answered {answer.GetType().Name} to a read"),
        };
    }

    /// <summary>This node's replica of the configuration, or null when it has none yet (it may lag the singleton).</summary>
    public async Task<ConfigurationListing?> GetReplicaAsync(CancellationToken ct = default)
    {
        try
        {
            return await Replica.Ask<object>(GetConfiguration.Instance, TimeSpan.FromSeconds(1), ct) as ConfigurationListing;
        }
        catch (Exception e) when (e is AskTimeoutException or InvalidOperationException)
        {
            return null; // no answer, or the replica's "no configuration yet"
        }
    }

    /// <summary>
    /// This node's replica as a configuration (the networks it holds, with their endpoints) and its revision, or null
    /// when it has none yet. Reads that fall back to the replica answer from this with the same queries the singleton
    /// answers (<see cref="FabricConfiguration.Answer"/>). The replica's immutable state, by reference: O(1).
    /// </summary>
    public async Task<ReplicaView?> GetReplicaStateAsync(CancellationToken ct = default)
    {
        try
        {
            var answer = await Replica.Ask<ReplicaStateAnswer>(GetReplicaState.Instance, TimeSpan.FromSeconds(1), ct);
            return answer.State is null ? null : new ReplicaView(answer.State, answer.Revision);
        }
        catch (AskTimeoutException)
        {
            return null;
        }
    }

    public IReadOnlyList<MemberView> Members()
    {
        var state = Node.Cluster.State;
        return state.Members.Select(m =>
        {
            var id = NodeIdentity.Of(m);
            return new MemberView(id?.Name ?? m.Address.ToString(), m.Address.ToString(), m.Status.ToString().ToLowerInvariant(),
                id?.Vtep.ToString(), id?.Http, !state.Unreachable.Contains(m));
        }).OrderBy(m => m.Name, StringComparer.Ordinal).ToArray();
    }

    public Member? FindMember(string name)
        => Node.Cluster.State.Members.FirstOrDefault(m => NodeIdentity.Of(m)?.Name == name);

    /// <summary>Asks an actor (<c>query</c>, <c>ports</c>) on the named node, wherever it is.</summary>
    public async Task<T> AskNodeAsync<T>(string node, object message, string actor = "query", CancellationToken ct = default)
    {
        var member = FindMember(node) ?? throw new KeyNotFoundException($"no cluster member is named '{node}'");
        var selection = System.ActorSelection($"{member.Address}/user/{actor}");
        return await selection.Ask<T>(message, AskTimeout, ct);
    }

    public bool Leave(string node)
    {
        if (FindMember(node) is not { } m) return false;
        Node.Cluster.Leave(m.Address);
        return true;
    }

    public bool Down(string node)
    {
        if (FindMember(node) is not { } m) return false;
        Node.Cluster.Down(m.Address);
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        await Node.DisposeAsync();
        Engine?.Dispose();
        Underlay?.Dispose();
    }
}
