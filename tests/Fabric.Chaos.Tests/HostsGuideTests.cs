using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Fabric.Actors.Configuration;
using Fabric.Chaos.Tests.Harness;
using Fabric.Tests.Shared;
using Xunit.Abstractions;

namespace Fabric.Chaos.Tests;

/// <summary>
/// The README's "Run on your own hosts", followed as written (<see cref="GuideCluster"/>) on three network namespaces
/// standing in for hosts, with a throw-away PostgreSQL as the store: the cluster forms over mutual TLS, TAP endpoints on
/// two hosts ping each other, <c>fabric ctl</c> works over HTTPS, the configuration survives kill -9 of the host holding
/// the singleton; an intruder cannot get in; tokens are scoped and revocable everywhere. The cluster is made once, by
/// the first case that needs it, and shared (each case leaves it whole).
/// </summary>
[Collection(ChaosCollection.Name)]
public sealed class HostsGuideTests(GuideFixture guide, ITestOutputHelper output) : IClassFixture<GuideFixture>
{
    [GuideFact]
    public async Task The_guide_followed_word_for_word_forms_a_cluster_whose_tap_endpoints_ping_across_hosts_and_ctl_works_over_https()
    {
        var c = await guide.GetAsync(output);
        var cluster = c.Cluster;
        Assert.All(cluster.Nodes, n => Assert.StartsWith("https://", n.Http, StringComparison.Ordinal));

        // The README's "use it" block: a network and a TAP endpoint on node-1 and node-2, all through `fabric ctl` over HTTPS.
        var use = c.Guide.With("endpoints create vm-a");
        foreach (var command in use.Commands)
        {
            foreach (Match m in Regex.Matches(command, @"--namespace (\S+)")) c.Hosts.RemoveOnDispose(m.Groups[1].Value);
            var r = await c.YoursAsync(command);
            Assert.True(r.ExitCode == 0, $"{command}: {r.ExitCode} {r.Output}{r.Error}");
            output.WriteLine($"$ {command}\n{r.Output.TrimEnd()}");
        }

        // The README's ping, on host 198.51.100.11: retried while the fabric learns the new endpoints, then 3 of 3.
        var ping = c.Guide.With("ip netns exec vm-a ping");
        Assert.StartsWith("host 198.51.100.11", ping.Where, StringComparison.Ordinal);
        var command1 = GuideCluster.Local(ping.One("sudo ip netns exec vm-a ping"));
        var connected = await ChaosCluster.WaitUntilAsync(async () => (await c.YoursAsync(command1.Replace("-c 3", "-c 1 -W 1", StringComparison.Ordinal))).ExitCode == 0,
            TimeSpan.FromSeconds(60), $"`{command1}` answered", 200);
        var answered = await c.YoursAsync(command1);
        Assert.True(answered.ExitCode == 0 && answered.Output.Contains(" 0% packet loss", StringComparison.Ordinal), $"{command1}: {answered.Output}{answered.Error}");
        output.WriteLine($"vm-a → vm-b answered {connected.TotalSeconds:0.0} s after the endpoints were made:\n{answered.Output}");

        // The host that runs the node as the unit does (user fabric, CAP_NET_ADMIN only) makes TAP devices: a VM port
        // without a namespace, as a hypervisor would attach it, appears up in that host's namespace.
        var service = Enumerable.Range(1, c.HostCount).Single(c.RunsAsService);
        var blue = JsonNode.Parse((await c.SendAsync(1, HttpMethod.Get, "/api/v1/networks")).Body)!.AsArray()
            .Single(n => n!["name"]!.GetValue<string>() == "blue")!["id"]!.GetValue<string>();
        var subnetA = JsonNode.Parse((await c.SendAsync(1, HttpMethod.Get, $"/api/v1/networks/{blue}/subnets")).Body)!.AsArray()
            .Single(n => n!["name"]!.GetValue<string>() == "a")!["id"]!.GetValue<string>();
        var (created, body) = await c.SendAsync(1, HttpMethod.Post, "/api/v1/endpoints",
            new { name = "vm-c", network = blue, subnet = subnetA, node = $"node-{service}", ip = "10.10.1.30", port = new { kind = "tap" } });
        Assert.True(created == HttpStatusCode.Created, $"a TAP endpoint on node-{service}: {(int)created} {body}");
        var device = "fab" + JsonNode.Parse(body)!["id"]!.GetValue<string>().Replace("-", "", StringComparison.Ordinal);
        var up = await ChaosCluster.WaitUntilAsync(async () =>
            Regex.IsMatch((await Shell.Ip("-n", GuideHosts.NamespaceOf(service), "-o", "link", "show", device)).Output, "[<,]UP[,>]"),
            TimeSpan.FromSeconds(20), $"TAP {device} up on node-{service}, which runs as user fabric with CAP_NET_ADMIN only");
        output.WriteLine($"node-{service} (user fabric, CAP_NET_ADMIN only) made TAP {device} in {up.TotalSeconds:0.0} s");

        // HTTPS only, with the node's certificate from the cluster CA: plain HTTP on 4051 gets no answer.
        using (var plain = new HttpClient { Timeout = TimeSpan.FromSeconds(5) })
            await Assert.ThrowsAnyAsync<Exception>(() => plain.GetAsync($"http://{GuideHosts.AddressOf(1)}:4051/health/alive"));
        foreach (var i in Enumerable.Range(1, c.HostCount))
            Assert.Equal(c.HostCount, (await c.MembersAsync(i)).Count(m => m.Status == "up"));

        // One journal: in PostgreSQL, and no host made a SQLite file of its own.
        await AssertOneJournalAsync(c);
    }

    [GuideFact("openssl")]
    public async Task An_intruder_with_a_self_signed_certificate_and_the_same_seeds_never_joins_and_nothing_it_sends_is_read()
    {
        var c = await guide.GetAsync(output);
        const int intruder = 5; // 4 is the host the guide adds
        var address = GuideHosts.AddressOf(intruder);
        await c.Hosts.AddHostAsync(intruder);

        // Its files as `fabric init` makes them for one host, then what an attacker who can reach port 4050 has: a
        // self-signed certificate (naming node-1, for good measure), the cluster's seeds and its CA certificate, which
        // is public (so it would accept the nodes' certificates); not the store's password.
        var dir = Path.Combine(c.Hosts.Root(intruder), "etc", "fabric");
        var store = Regex.Replace(StoreOf(c), "Password=[^;]*", "Password=guessed");
        var init = await c.YoursAsync($"/opt/fabric/fabric init --hosts {address} --names intruder --store \"{store}\" --out {c.Hosts.Root(intruder)}/init");
        Assert.True(init.ExitCode == 0, $"init of the intruder: {init.Output}{init.Error}");
        Directory.CreateDirectory(Path.GetDirectoryName(dir)!);
        Directory.Move(Path.Combine(c.Hosts.Root(intruder), "init", "intruder"), dir);
        var conf = Path.Combine(dir, "node.conf");
        var own = FabricHocon.Load(conf);
        var certificate = Path.GetFullPath(own.GetString("fabric.remote-tls.certificate"), dir);
        var ca = Path.GetFullPath(own.GetString("fabric.remote-tls.ca"), dir);
        await MustAsync("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=node-1/O=Fabric", "-addext", $"subjectAltName=IP:{address},DNS:node-1",
            "-keyout", Path.Combine(dir, "self.key"), "-out", Path.Combine(dir, "self.crt"));
        await MustAsync("openssl", "pkcs12", "-export", "-inkey", Path.Combine(dir, "self.key"), "-in", Path.Combine(dir, "self.crt"),
            "-passout", "pass:", "-out", certificate);
        File.Copy(c.CaPath, ca, overwrite: true);
        var seeds = c.Cluster.Nodes.Select(n => n.Akka).ToArray();
        await File.AppendAllTextAsync(conf, $"\n# the intruder: the cluster's seeds\nakka.cluster.seed-nodes = [{string.Join(", ", seeds.Select(s => $"\"{s}\""))}]\n");

        // Akka.Remote shuts a node down when a TLS handshake it started fails (`fabric node` exits 1 then), so the
        // intruder runs as the README's unit would run it, restarted whenever it exits: it knocks for the whole 30 s
        // either way. (With TLS 1.2 its own side of the handshake completes before the node refuses its certificate, so
        // it usually keeps running.)
        var work = Path.Combine(c.Hosts.Root(intruder), "var", "lib", "fabric");
        Directory.CreateDirectory(work);
        var run = c.OnHost(intruder, c.Guide.With("/opt/fabric/fabric node --config").Commands[0]);
        var node = c.Hosts.Spawn(GuideHosts.NamespaceOf(intruder), "intruder", $"while true; do {run}; echo \"intruder exited $?\"; sleep 1; done", work, script: true);
        var logsBefore = Enumerable.Range(1, c.HostCount).Select(i => c.Node(i).Log.Length).ToArray();

        // 30 s of it knocking: never a member anywhere.
        var clock = Stopwatch.StartNew();
        var polls = 0;
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            foreach (var i in Enumerable.Range(1, c.HostCount))
            {
                var members = await c.MembersAsync(i);
                Assert.True(members.All(m => !m.Address.Contains(address, StringComparison.Ordinal) && m.Name != "intruder"),
                    $"node-{i} lists the intruder after {clock.Elapsed.TotalSeconds:0.0} s: {string.Join(", ", members)}");
            }
            polls++;
            await Task.Delay(1000);
        }
        var ready = await ReadyAsync(address);
        output.WriteLine($"the intruder's own GET /health/ready: {ready}");
        var pids = await Shell.Ip("netns", "pids", GuideHosts.NamespaceOf(intruder));
        foreach (var pid in pids.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)) Shell.Signal(int.Parse(pid.Trim(), System.Globalization.CultureInfo.InvariantCulture), 9);
        await node.DisposeAsync();
        var attempts = Regex.Matches(node.Log, "intruder exited").Count;
        var exitCodes = Regex.Matches(node.Log, @"intruder exited (\d+)").Select(m => m.Groups[1].Value).Distinct().ToArray();
        Assert.NotEqual("200", ready); // never Up in any cluster

        // A TLS client without a certificate (openssl s_client, which sends a line 2 s after the handshake and reads for
        // 3 s more): the node asked for a certificate, got none and closed the connection at the end of the handshake,
        // so s_client's read finds the connection gone, and the node logs the refusal (below).
        var sClient = await Shell.RunAsync("/bin/bash", ["-c",
            $"{{ sleep 2; echo hello; sleep 3; }} | openssl s_client -connect {GuideHosts.AddressOf(1)}:4050 2>&1"], TimeSpan.FromSeconds(30));
        output.WriteLine($"openssl s_client without a client certificate: exit {sClient.ExitCode}:\n{string.Join('\n', sClient.Output.Split('\n').Where(l => !l.StartsWith("    0", StringComparison.Ordinal)))}");
        Assert.Matches("unexpected eof|alert|errno=|Connection reset", sClient.Output);

        // What the nodes say: every contact of the intruder was refused in the TLS handshake, before Akka read a frame.
        var said = Enumerable.Range(1, c.HostCount).Select(i => c.Node(i).Log[logsBefore[i - 1]..]).ToArray();
        var refusals = said.Sum(l => Regex.Matches(l, $@"TLS: refused .*{Regex.Escape(address)}").Count);
        var clientRefusals = said.Sum(l => Regex.Matches(l, "did not provide a certificate|presented no certificate").Count);
        output.WriteLine($"over {clock.Elapsed.TotalSeconds:0} s ({polls} membership checks on each node) the intruder started {attempts + 1} times (exits: {string.Join(", ", exitCodes)}); " +
                         $"{refusals} TLS refusals of {address} logged by the nodes, {clientRefusals} of a client without a certificate");
        output.WriteLine("--- what the nodes logged meanwhile\n" + string.Join("\n", said.Select((l, i) => $"node-{i + 1}:\n{string.Join('\n', l.Split('\n').TakeLast(8))}")));
        Assert.True(refusals >= 2, $"the nodes logged {refusals} TLS refusals of the intruder in 30 s; it knocks every few seconds:\n{node.Log}");
        Assert.True(clientRefusals >= 1, "node-1 did not log refusing the client without a certificate");
        var refusedClient = said[0].Split('\n').FirstOrDefault(l => l.Contains("did not provide a certificate", StringComparison.Ordinal)) ?? "";
        // Nothing but the TLS layer names it: no association, no gossip, no message from it was handled.
        var otherMentions = said.SelectMany(l => l.Split('\n')).Where(l => l.Contains(address, StringComparison.Ordinal) && !l.Contains("TLS", StringComparison.Ordinal)).ToArray();
        Assert.True(otherMentions.Length == 0, $"the nodes logged the intruder outside the TLS handshake:\n{string.Join('\n', otherMentions)}");
        // The cluster is whole: knocking took no node down.
        foreach (var i in Enumerable.Range(1, c.HostCount))
        {
            Assert.False(c.Node(i).HasExited, $"node-{i} exited while the intruder knocked:\n{c.Node(i).Log}");
            Assert.Equal(c.HostCount, (await c.MembersAsync(i)).Count(m => m.Status == "up"));
        }

        ReliabilityLog.Record(new ReliabilityLog.Row("B12",
            "intruder: a fourth host runs `fabric node` with a self-signed certificate and the cluster's seeds for 30 s; `openssl s_client` without a client certificate on TCP 4050",
            $"never a member on any of the 3 nodes ({polls} checks each) while it started {attempts + 1} times (restarted on every exit); every connection refused in the TLS handshake ({refusals} refusals of it logged), so no frame from it was read; s_client without a client certificate: node-1 asked for one, got none, closed the connection at the end of the handshake before reading a byte (\"{Regex.Match(refusedClient, "Mutual TLS required but client did not provide a certificate").Value}\"), s_client's read found it gone; no node went down",
            "per connection, in the TLS handshake", "n/a (no outage)", "n/a", "0",
            nameof(An_intruder_with_a_self_signed_certificate_and_the_same_seeds_never_joins_and_nothing_it_sends_is_read)));
    }

    [GuideFact]
    public async Task A_read_token_gets_403_on_every_write_route_and_a_revoked_token_401_within_1_s_on_every_node()
    {
        var c = await guide.GetAsync(output);
        var tokens = c.Guide.With("tokens create --name monitoring --scope read");
        var created = await c.YoursAsync(tokens.One("/opt/fabric/fabric ctl --cluster fabric-hosts/cluster.json tokens create --name monitoring --scope read") + " --json");
        Assert.True(created.ExitCode == 0, $"tokens create: {created.Output}{created.Error}");
        var secret = JsonNode.Parse(created.Output)!["token"]!.GetValue<string>();

        // Every write route of the OpenAPI document, on every node: 403 with the read token.
        using var anonymous = c.Api(1, token: "");
        var openApi = JsonNode.Parse(await anonymous.GetStringAsync("/openapi/v1.json"))!["paths"]!.AsObject();
        var writes = openApi.SelectMany(p => p.Value!.AsObject().Select(m => (Method: m.Key.ToUpperInvariant(), Path: p.Key)))
            .Where(r => r.Method is "POST" or "PUT" or "PATCH" or "DELETE").ToArray();
        Assert.True(writes.Length >= 10, $"only {writes.Length} write routes in the OpenAPI document");
        var refused = 0;
        foreach (var i in Enumerable.Range(1, c.HostCount))
            foreach (var (method, path) in writes)
            {
                var concrete = Regex.Replace(path, @"\{[^}]+\}", "x1");
                var (status, body) = await c.SendAsync(i, new HttpMethod(method), concrete, new { }, secret);
                Assert.True(status == HttpStatusCode.Forbidden, $"node-{i}: {method} {concrete} with the read token: {(int)status} {body}");
                refused++;
            }
        var (readStatus, _) = await c.SendAsync(2, HttpMethod.Get, "/api/v1/networks", token: secret);
        Assert.Equal(HttpStatusCode.OK, readStatus);

        // Revoked on one node (the README's command), refused everywhere within 1 s of the answer.
        var revoke = tokens.One("/opt/fabric/fabric ctl --cluster fabric-hosts/cluster.json tokens revoke monitoring");
        using var watchers = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var sent = Stopwatch.StartNew();
        TimeSpan? answeredAt = null;
        var firstRefusal = await Task.WhenAll(Enumerable.Range(1, c.HostCount).Select(async i =>
        {
            using var api = c.Api(i, secret);
            while (!watchers.IsCancellationRequested)
            {
                using var r = await api.GetAsync("/api/v1/networks", watchers.Token);
                if (r.StatusCode == HttpStatusCode.Unauthorized) return sent.Elapsed;
                await Task.Delay(20, watchers.Token);
            }
            return TimeSpan.MaxValue;
        }).Append(Task.Run(async () =>
        {
            var r = await c.YoursAsync(revoke);
            answeredAt = sent.Elapsed;
            Assert.True(r.ExitCode == 0, $"{revoke}: {r.Output}{r.Error}");
            return TimeSpan.Zero;
        })));
        var lags = firstRefusal.Take(c.HostCount).Select(t => t - answeredAt!.Value).ToArray();
        output.WriteLine($"{writes.Length} write routes × {c.HostCount} nodes refused (403) with the read token; revoke answered {answeredAt!.Value.TotalMilliseconds:0} ms after `fabric ctl` started; " +
                         $"first 401 on the nodes at {string.Join(", ", firstRefusal.Take(c.HostCount).Select(t => $"{t.TotalMilliseconds:0} ms"))} after it started ({string.Join(", ", lags.Select(l => $"{l.TotalMilliseconds:0}"))} ms from the answer)");
        Assert.All(lags, l => Assert.True(l <= TimeSpan.FromSeconds(1), $"a node accepted the revoked token {l.TotalMilliseconds:0} ms after the revocation was answered"));

        ReliabilityLog.Record(new ReliabilityLog.Row("B13",
            "scoped tokens over HTTPS on the guide's 3 hosts: a `read` token on every write route of the OpenAPI document on every node; then revoked with `fabric ctl tokens revoke`",
            $"{refused} writes ({writes.Length} routes × {c.HostCount} nodes) refused with 403, GET allowed; after the revocation every node answered 401",
            $"401 on every node by {firstRefusal.Take(c.HostCount).Max().TotalMilliseconds:0} ms after `fabric ctl tokens revoke` started, {Math.Max(0, lags.Max().TotalMilliseconds):0} ms after its answer (bound 1 s)", "n/a (no outage)", "n/a", "0",
            nameof(A_read_token_gets_403_on_every_write_route_and_a_revoked_token_401_within_1_s_on_every_node)));
    }

    [GuideFact]
    public async Task A_host_added_as_the_guide_says_joins_the_running_cluster_and_one_stopped_as_it_says_leaves_it()
    {
        var c = await guide.GetAsync(output);
        const int added = 4;
        await c.Hosts.AddHostAsync(added);

        // The README's block, on your machine: `fabric init --add` signs node-4's certificate with the cluster CA, writes
        // its folder and adds it to cluster.json; then its folder is copied to the host.
        var add = c.Guide.With("--add node-4");
        foreach (var command in add.Commands)
        {
            if (command.StartsWith("scp ", StringComparison.Ordinal)) { await c.CopyAsync(command); continue; }
            var r = await c.YoursAsync(command);
            Assert.True(r.ExitCode == 0, $"{command}: {r.ExitCode} {r.Output}{r.Error}");
            output.WriteLine($"$ {command}\n{r.Output.TrimEnd()}");
        }
        Assert.Equal(["node-1", "node-2", "node-3", "node-4"], c.Cluster.Nodes.Select(n => n.Name));
        var node = c.StartNode(added);
        var joined = await ChaosCluster.WaitUntilAsync(async () =>
            (await c.MembersAsync(1)).Count(m => m.Status == "up") == c.HostCount + 1, TimeSpan.FromSeconds(60), "node-4 up in the cluster", 500);
        // Through cluster.json's new entry: node-4's own HTTPS endpoint, with its certificate from the cluster CA.
        var members = await c.MembersAsync(added);
        Assert.Contains(members, m => m.Name == "node-4" && m.Address.Contains(GuideHosts.AddressOf(added) + ":4050", StringComparison.Ordinal));
        output.WriteLine($"{ChaosCluster.Stamp()} node-4 joined {joined.TotalSeconds:0.0} s after it started: {string.Join(", ", members)}");

        // Removing it: the README stops the service, and systemd stops it with the unit's KillSignal.
        Assert.Contains(c.Guide.With("systemctl disable --now fabric-node").Commands, l => l == "sudo systemctl disable --now fabric-node");
        Assert.Equal(["SIGTERM"], ReadmeGuide.UnitValues("KillSignal"));
        Shell.Signal(node.Pid, 15);
        Assert.True(await node.WaitForExitAsync(TimeSpan.FromSeconds(30)), "node-4 did not exit within 30 s of SIGTERM");
        Assert.Equal(0, node.ExitCode);
        var left = await ChaosCluster.WaitUntilAsync(async () => (await c.MembersAsync(1)) is var m && m.Count == c.HostCount && m.All(x => x.Name != "node-4"),
            TimeSpan.FromSeconds(30), "node-4 gone from the members", 250);
        output.WriteLine($"{ChaosCluster.Stamp()} node-4 left: exit 0, gone from the members {left.TotalSeconds:0.0} s after it exited");

        // "Delete its folder from fabric-hosts and its entry from cluster.json": the other cases see the 3 hosts again.
        var cluster = c.Cluster;
        (cluster with { Nodes = [.. cluster.Nodes.Where(n => n.Name != "node-4")] }).Write(c.ClusterFilePath);
        Directory.Delete(Path.Combine(c.YourMachine, GuideCluster.ClusterDir, "node-4"), recursive: true);
    }

    [GuideFact]
    public async Task Kill_9_of_the_host_holding_the_configuration_singleton_keeps_the_configuration_on_the_one_journal()
    {
        var c = await guide.GetAsync(output);
        var before = await c.SendAsync(1, HttpMethod.Post, "/api/v1/networks", new { name = "before-failover", vni = 4001, kind = "l2" });
        Assert.True(before.Status == HttpStatusCode.Created, $"before-failover: {(int)before.Status} {before.Body}");

        // The lease in the store says where the singleton runs.
        var holder = await LeaseHolderAsync(c);
        output.WriteLine($"{ChaosCluster.Stamp()} the configuration lease is held by node-{holder} ({GuideHosts.AddressOf(holder)})");
        var survivors = Enumerable.Range(1, c.HostCount).Where(i => i != holder).ToArray();
        c.Node(holder).Kill9();
        var killed = Stopwatch.StartNew();
        output.WriteLine($"{ChaosCluster.Stamp()} kill -9 node-{holder}");

        var accepted = await ChaosCluster.WaitUntilAsync(async () =>
            (await c.SendAsync(survivors[0], HttpMethod.Post, "/api/v1/networks", new { name = "after-failover", vni = 4002, kind = "l2" })).Status == HttpStatusCode.Created,
            TimeSpan.FromSeconds(60), "a write accepted by a survivor", 250);
        output.WriteLine($"{ChaosCluster.Stamp()} writes accepted again {accepted.TotalSeconds:0.0} s after the kill");
        var newHolder = await LeaseHolderAsync(c);
        Assert.Contains(newHolder, survivors);
        foreach (var i in survivors)
        {
            var (status, body) = await c.SendAsync(i, HttpMethod.Get, "/api/v1/networks");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Contains("\"before-failover\"", body, StringComparison.Ordinal);
            Assert.Contains("\"after-failover\"", body, StringComparison.Ordinal);
        }

        // As systemd's Restart=on-failure would: the host's node starts again with the same command and rejoins.
        c.StartNode(holder);
        var rejoined = await ChaosCluster.WaitUntilAsync(async () =>
            (await c.MembersAsync(survivors[0])).Count(m => m.Status == "up") == c.HostCount, TimeSpan.FromSeconds(90), $"node-{holder} back in the cluster", 500);
        var back = await ChaosCluster.WaitUntilAsync(async () => (await c.SendAsync(holder, HttpMethod.Get, "/api/v1/networks")) is { Status: HttpStatusCode.OK } r
            && r.Body.Contains("\"before-failover\"", StringComparison.Ordinal) && r.Body.Contains("\"after-failover\"", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), $"node-{holder} lists both networks", 250);
        output.WriteLine($"{ChaosCluster.Stamp()} node-{holder} rejoined {killed.Elapsed.TotalSeconds:0.0} s after the kill");
        await AssertOneJournalAsync(c);

        ReliabilityLog.Record(new ReliabilityLog.Row("F12",
            "the README's guide on 3 namespace hosts with PostgreSQL: kill -9 of the host holding the configuration singleton (lease holder), a write before and after, the host restarted as systemd would",
            $"the lease moved to node-{newHolder}; the write before and the one after are listed on every node, the restarted one included; one journal (PostgreSQL), no host made a SQLite file",
            $"writes accepted {ReliabilityLog.Seconds(accepted)} after the kill", $"restarted node lists both {ReliabilityLog.Seconds(killed.Elapsed)} after the kill",
            "n/a (no traffic)", "0", nameof(Kill_9_of_the_host_holding_the_configuration_singleton_keeps_the_configuration_on_the_one_journal)));
    }

    /// <summary>Needs no root: only the executable. The guide's own init command, without its --store.</summary>
    [Fact]
    public async Task Init_for_three_hosts_without_a_store_is_refused_naming_the_option_and_writes_nothing()
    {
        var init = ReadmeGuide.Load().With("fabric init --hosts").One("/opt/fabric/fabric init ");
        var withoutStore = Regex.Replace(init, @" --store ""[^""]*""", "");
        Assert.NotEqual(init, withoutStore);
        var dir = Directory.CreateTempSubdirectory("fabric-guide-refusal-");
        try
        {
            var r = await Shell.RunAsync("/bin/bash", ["-c", $"cd {dir.FullName} && {GuideCluster.Local(withoutStore)}"]);
            output.WriteLine($"$ {withoutStore}\nexit {r.ExitCode}\n{r.Output}{r.Error}");
            Assert.NotEqual(0, r.ExitCode);
            Assert.Contains("--store", r.Error, StringComparison.Ordinal);
            var written = Directory.GetFileSystemEntries(dir.FullName, "*", SearchOption.AllDirectories);
            Assert.True(written.Length == 0, $"the refused init wrote {string.Join(", ", written)}");
            ReliabilityLog.Record(new ReliabilityLog.Row("B14",
                "split journal: the README's `fabric init` for 3 hosts without `--store` (each host would keep its own SQLite journal)",
                $"refused with exit {r.ExitCode} and one line naming --store: \"{r.Error.Trim().Split('\n')[0]}\"; nothing written",
                "at once, before anything is written", "n/a", "n/a", "0 (nothing was accepted)",
                nameof(Init_for_three_hosts_without_a_store_is_refused_naming_the_option_and_writes_nothing)));
        }
        finally { dir.Delete(true); }
    }

    /// <summary>Pure: the section's blocks parse and the unit runs the README's command the way the README says.</summary>
    [Fact]
    public void The_unit_runs_the_readme_command_as_a_dedicated_user_with_cap_net_admin_only_and_restarts_on_failure()
    {
        var guide = ReadmeGuide.Load();
        var foreground = guide.With("/opt/fabric/fabric node --config").One("sudo /opt/fabric/fabric node --config");
        Assert.Equal(foreground["sudo ".Length..], ReadmeGuide.UnitExecStart());
        Assert.Equal(["fabric"], ReadmeGuide.UnitValues("User"));
        Assert.Equal(["CAP_NET_ADMIN"], ReadmeGuide.UnitValues("CapabilityBoundingSet"));
        Assert.Equal(["CAP_NET_ADMIN"], ReadmeGuide.UnitValues("AmbientCapabilities"));
        Assert.Equal(["on-failure"], ReadmeGuide.UnitValues("Restart"));
        // Not restarted: a refused configuration (it would be refused again every RestartSec) and a node asked to leave.
        Assert.Equal([$"{Fabric.Nodes.Cli.NodeCommand.RefusedExitCode} {Fabric.Nodes.Cli.NodeCommand.LeftExitCode}"], ReadmeGuide.UnitValues("RestartPreventExitStatus"));
        Assert.Equal(["yes"], ReadmeGuide.UnitValues("NoNewPrivileges"));
        Assert.Equal(["strict"], ReadmeGuide.UnitValues("ProtectSystem"));
        var service = guide.With("systemctl enable --now fabric-node");
        Assert.Contains(service.Commands, l => l.Contains("useradd", StringComparison.Ordinal) && l.EndsWith(" fabric", StringComparison.Ordinal));
        Assert.Contains(guide.With("scp deploy/fabric-node.service").Commands, l => l.Contains(ReadmeGuide.UnitFile, StringComparison.Ordinal));
        // Every block says where it runs, and only at places the tests know.
        Assert.All(guide, b => Assert.Matches("^(the database host|your machine|each host|host 198\\.51\\.100\\.1[1-3]|the host that leaves)", b.Where));
    }

    private static string StoreOf(GuideCluster c)
        => Regex.Match(c.Guide.With("fabric init --hosts").One("/opt/fabric/fabric init "), @"--store ""([^""]*)""").Groups[1].Value;

    /// <summary>The host whose address the configuration lease's owner names.</summary>
    private static async Task<int> LeaseHolderAsync(GuideCluster c)
    {
        var owner = await c.Database.QueryAsync("SELECT owner FROM fabric_lease");
        var holder = Enumerable.Range(1, c.HostCount).FirstOrDefault(i => owner.Contains(GuideHosts.AddressOf(i) + ":", StringComparison.Ordinal));
        Assert.True(holder > 0, $"the lease's owner '{owner}' is none of the hosts");
        return holder;
    }

    /// <summary>The journal is PostgreSQL's and no host made a SQLite file.</summary>
    private async Task AssertOneJournalAsync(GuideCluster c)
    {
        var sqlite = Enumerable.Range(1, c.HostCount).SelectMany(i => Directory.GetFiles(c.Hosts.Root(i), "*.db", SearchOption.AllDirectories)).ToArray();
        Assert.True(sqlite.Length == 0, $"a host made a SQLite store: {string.Join(", ", sqlite)}");
        var tables = await c.Database.QueryAsync("SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'public'");
        output.WriteLine($"tables in PostgreSQL: {tables}");
        Assert.Contains("journal", tables, StringComparison.Ordinal);
        Assert.Contains("fabric_lease", tables, StringComparison.Ordinal);
    }

    /// <summary>The intruder's own /health/ready status (its certificate is not validated: it is only asked whether it is Up).</summary>
    private static async Task<string> ReadyAsync(string address)
    {
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var r = await http.GetAsync($"https://{address}:4051/health/ready");
            return $"{(int)r.StatusCode}";
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return e.Message; }
    }

    private static async Task MustAsync(string tool, params string[] args)
        => (await Shell.RunAsync(tool, args)).Check($"{tool} {string.Join(' ', args)}");
}

/// <summary>A case of the guide: root, the namespace tools, ping, PostgreSQL and the named tools; else skipped, saying why.</summary>
public sealed class GuideFactAttribute : FactAttribute
{
    public GuideFactAttribute(params string[] tools)
    {
        if (Fabric.Nodes.Cli.Netns.Unsupported() is { } why) { Skip = why; return; }
        if (GuidePostgres.WhyUnavailable() is { } noPg) { Skip = noPg; return; }
        foreach (var tool in tools.Append("ping"))
            if (Tools.Find(tool) is null) { Skip = $"'{tool}' is not installed (scripts/setup.sh installs it as root)"; return; }
    }
}

/// <summary>
/// The guide's cluster, made by the first case that asks (so a machine that skips every case makes nothing) and shared
/// by the class's cases; a failed start is remembered and reported to each case.
/// </summary>
public sealed class GuideFixture : IAsyncLifetime
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CurrentOutput _output = new();
    private GuideCluster? _cluster;
    private Exception? _failed;

    public async Task<GuideCluster> GetAsync(ITestOutputHelper output)
    {
        await _gate.WaitAsync();
        try
        {
            _output.Target = output;
            if (_failed is not null) throw new Xunit.Sdk.XunitException($"the guide's cluster did not start: {_failed.Message}");
            if (_cluster is not null) return _cluster;
            try { return _cluster = await GuideCluster.StartAsync(_output); }
            catch (Exception e)
            {
                _failed = e;
                throw;
            }
        }
        finally { _gate.Release(); }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_cluster is not null) await _cluster.DisposeAsync();
    }
}

/// <summary>The output of the case that runs now: the shared cluster outlives the case that made it.</summary>
internal sealed class CurrentOutput : ITestOutputHelper
{
    public ITestOutputHelper? Target { get; set; }

    public void WriteLine(string message)
    {
        try { Target?.WriteLine(message); }
        catch (InvalidOperationException) { /* between cases: nobody to tell */ }
    }

    public void WriteLine(string format, params object[] args) => WriteLine(string.Format(System.Globalization.CultureInfo.InvariantCulture, format, args));
}
