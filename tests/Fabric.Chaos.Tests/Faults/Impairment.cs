using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Fabric.Chaos.Tests.Faults;

/// <summary>How an <see cref="Impairment"/> works on the packets.</summary>
public enum ImpairmentBackend
{
    /// <summary>The kernel's netem qdisc when the kernel has it (egress, no protocol filter), else NFQUEUE.</summary>
    Auto,
    /// <summary>The userspace netem: iptables NFQUEUE and verdicts from this process.</summary>
    Nfqueue,
    /// <summary>The kernel's netem qdisc (tc), or fail.</summary>
    Netem,
}

/// <summary>Which way the impaired packets travel on the interface.</summary>
public enum ImpairmentDirection
{
    /// <summary>Packets this namespace sends out of the interface (iptables OUTPUT -o).</summary>
    Egress,
    /// <summary>Packets this namespace receives on the interface for itself (iptables INPUT -i).</summary>
    Ingress,
}

/// <summary>
/// What to do to each packet, as netem would: drop it with probability <see cref="Loss"/>, else hold it for
/// <see cref="Delay"/> ± <see cref="Jitter"/> (uniform), and a fraction <see cref="Reorder"/> of them for
/// <see cref="ReorderExtra"/> more, so later packets overtake them. Jitter larger than the gap between packets
/// reorders by itself.
/// </summary>
public sealed record ImpairmentSettings
{
    /// <summary>Probability (0..1) that a packet is dropped.</summary>
    public double Loss { get; init; }
    public TimeSpan Delay { get; init; }
    /// <summary>Half-width of the uniform spread around <see cref="Delay"/> (a draw below zero is no delay).</summary>
    public TimeSpan Jitter { get; init; }
    /// <summary>Probability (0..1) that a (not dropped) packet is held <see cref="ReorderExtra"/> longer.</summary>
    public double Reorder { get; init; }
    public TimeSpan ReorderExtra { get; init; } = TimeSpan.FromMilliseconds(20);
    /// <summary>Seed for the draws, for a repeatable run; null draws from a random seed.</summary>
    public int? Seed { get; init; }

    public override string ToString()
        => string.Create(CultureInfo.InvariantCulture,
            $"loss {Loss:P1}, delay {Delay.TotalMilliseconds:0.#} ms ± {Jitter.TotalMilliseconds:0.#} ms, reorder {Reorder:P1} (+{ReorderExtra.TotalMilliseconds:0.#} ms)");

    internal void Validate()
    {
        if (Loss is < 0 or > 1 || double.IsNaN(Loss)) throw new ArgumentOutOfRangeException(nameof(Loss), Loss, "a probability 0..1");
        if (Reorder is < 0 or > 1 || double.IsNaN(Reorder)) throw new ArgumentOutOfRangeException(nameof(Reorder), Reorder, "a probability 0..1");
        if (Delay < TimeSpan.Zero || Jitter < TimeSpan.Zero || ReorderExtra < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(Delay), "delays are not negative");
    }
}

/// <summary>What an <see cref="Impairment"/> has done so far (a snapshot).</summary>
public sealed record ImpairmentCounters(
    long Seen, long Dropped, long Accepted, long Delayed, long Reordered, long Pending, TimeSpan MaxDelay, long Overruns, long VerdictErrors)
{
    public override string ToString()
        => string.Create(CultureInfo.InvariantCulture,
            $"seen {Seen}, dropped {Dropped}, accepted {Accepted} ({Delayed} delayed, {Reordered} overtook an earlier packet, max hold {MaxDelay.TotalMilliseconds:0.#} ms), pending {Pending}, overruns {Overruns}, verdict errors {VerdictErrors}");
}

/// <summary>
/// A userspace netem for one network namespace and direction, for kernels without sch_netem: an iptables rule in the
/// namespace sends the interface's packets (but those to/from <c>exclude</c>d addresses) to an NFQUEUE; a thread that
/// has entered the namespace reads them from a NETLINK_NETFILTER socket (metadata only, no payload) and gives each a
/// verdict: drop, or accept once its drawn delay has passed. Verdicts go out in due order, not arrival order, which is
/// what delays and reorders. The rule has <c>--queue-bypass</c>: if this process dies, traffic flows unimpaired
/// instead of being black-holed. <see cref="Dispose"/> removes the rule, releases what is still held and closes the
/// socket. Needs root.
/// </summary>
public sealed partial class Impairment : IDisposable
{
    /// <summary>Every chain this class makes is called CHAOS-IMP-&lt;queue number&gt;; <see cref="RemoveLeftovers"/> looks for the prefix.</summary>
    public const string ChainPrefix = "CHAOS-IMP-";

    private static int nextQueue = 4200 + (Environment.ProcessId % 1000) * 16;
    private static readonly HashSet<Impairment> Live = [];

    static Impairment()
    {
        // A test run that ends without disposing (a crash of the test host aside) still leaves nothing behind.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            Impairment[] live;
            lock (Live) live = [.. Live];
            foreach (var i in live) i.Dispose();
        };
    }

    private readonly string chain;
    private readonly string[] jumpRule;
    private readonly Thread? thread;
    private readonly ManualResetEventSlim started = new();
    private Exception? startError;
    private volatile bool stopping;
    private volatile ImpairmentSettings settings;
    private Random random;
    private int disposed;

    private long seen, dropped, accepted, delayed, reordered, pending, maxDelayTicks, overruns, verdictErrors;

    /// <summary>The namespace (a name under /var/run/netns) the impairment applies in.</summary>
    public string Namespace { get; }
    public string Interface { get; }
    public ImpairmentDirection Direction { get; }
    /// <summary>Destinations (egress) or sources (ingress) left alone: addresses or CIDR prefixes.</summary>
    public IReadOnlyList<string> Exclude { get; }
    /// <summary>The NFQUEUE number (per namespace).</summary>
    public int QueueNumber { get; }
    /// <summary>The iptables binary that worked here (iptables-nft or iptables-legacy), or "tc netem".</summary>
    public string Backend { get; }
    /// <summary>True when the kernel's netem qdisc does the work (no NFQUEUE, no thread; see <see cref="Counters"/>).</summary>
    public bool UsesNetem { get; }

    /// <summary>Changes what is done to packets from now on (packets already held keep their due time).</summary>
    public ImpairmentSettings Settings
    {
        get => settings;
        set
        {
            value.Validate();
            if (UsesNetem) ChangeNetem(value);
            settings = value;
        }
    }

    /// <summary>
    /// What was done so far. Under netem only Seen, Dropped, Accepted (and Delayed, when there is a delay) are known
    /// (from <c>tc -s qdisc</c>); MaxDelay is then the largest delay configured.
    /// </summary>
    public ImpairmentCounters Counters => UsesNetem ? NetemCounters() : new(
        Interlocked.Read(ref seen), Interlocked.Read(ref dropped), Interlocked.Read(ref accepted), Interlocked.Read(ref delayed),
        Interlocked.Read(ref reordered), Interlocked.Read(ref pending), TimeSpan.FromSeconds(Interlocked.Read(ref maxDelayTicks) / (double)Stopwatch.Frequency),
        Interlocked.Read(ref overruns), Interlocked.Read(ref verdictErrors));

    /// <summary>
    /// Starts impairing <paramref name="iface"/> in network namespace <paramref name="netns"/> (e.g. eth0 in
    /// fabric-node-2) in <paramref name="direction"/>, leaving traffic to (egress) or from (ingress) the
    /// <paramref name="exclude"/>d addresses alone (e.g. the bridge address, so the test's own HTTP to the node is not
    /// impaired). <paramref name="protocol"/> (iptables -p: udp, icmp, ...) narrows it further. Returns once the queue
    /// is bound and the rule is in place.
    /// </summary>
    public static Impairment Start(string netns, ImpairmentSettings settings, string iface = "eth0",
        ImpairmentDirection direction = ImpairmentDirection.Egress, IEnumerable<string>? exclude = null, string? protocol = null,
        ImpairmentBackend backend = ImpairmentBackend.Auto)
        => new(netns, settings, iface, direction, exclude, protocol, backend);

    private Impairment(string netns, ImpairmentSettings settings, string iface, ImpairmentDirection direction, IEnumerable<string>? exclude, string? protocol,
        ImpairmentBackend backend)
    {
        settings.Validate();
        if (!File.Exists(NetnsPath(netns))) throw new ArgumentException($"no network namespace '{netns}' ({NetnsPath(netns)} does not exist)", nameof(netns));
        Namespace = netns;
        Interface = iface;
        Direction = direction;
        Exclude = [.. exclude ?? []];
        this.settings = settings;
        random = settings.Seed is { } seed ? new Random(seed) : new Random();
        QueueNumber = Interlocked.Increment(ref nextQueue) % 65536;
        chain = ChainPrefix + QueueNumber.ToString(CultureInfo.InvariantCulture);
        string[] match = protocol is null ? [] : ["-p", protocol];
        jumpRule = direction == ImpairmentDirection.Egress
            ? ["OUTPUT", "-o", iface, .. match, "-j", chain]
            : ["INPUT", "-i", iface, .. match, "-j", chain];

        if (backend != ImpairmentBackend.Nfqueue)
        {
            var why = direction != ImpairmentDirection.Egress ? "netem works on egress only"
                : protocol is not null ? "the netem path has no protocol filter"
                : !NetemWorks.Value ? "this kernel has no sch_netem"
                : TryInstallNetem();
            if (why is null)
            {
                UsesNetem = true;
                Backend = "tc netem";
                lock (Live) Live.Add(this);
                return;
            }
            if (backend == ImpairmentBackend.Netem) throw new InvalidOperationException($"cannot impair {netns}/{iface} with netem: {why}");
        }

        thread = new Thread(Run) { IsBackground = true, Name = $"impairment {netns}/{iface} q{QueueNumber}" };
        thread.Start();
        started.Wait();
        if (startError is not null)
        {
            thread.Join();
            throw new InvalidOperationException($"could not bind NFQUEUE {QueueNumber} in {netns}: {startError.Message}", startError);
        }

        try
        {
            Backend = InstallRules();
        }
        catch
        {
            stopping = true;
            thread.Join();
            throw;
        }
        lock (Live) Live.Add(this);
    }

    public override string ToString() => $"{Namespace}/{Interface} {Direction.ToString().ToLowerInvariant()} ({Settings}; {Counters})";

    /// <summary>Removes the rule, lets every held packet go, unbinds the queue and closes the socket. Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        lock (Live) Live.Remove(this);
        if (UsesNetem)
        {
            RemoveNetem();
            started.Dispose();
            return;
        }
        try
        {
            RemoveRules(Backend, chain, jumpRule, Namespace);
        }
        finally
        {
            stopping = true;
            thread!.Join();
            started.Dispose();
        }
    }

    /// <summary>
    /// For tests: the handler stops and closes its socket as if this process had died, but the rule stays, so the
    /// test can see that <c>--queue-bypass</c> lets traffic through instead of black-holing it. Dispose still cleans up.
    /// </summary>
    internal void SimulateHandlerDeath()
    {
        if (UsesNetem) throw new InvalidOperationException("netem has no userspace handler");
        stopping = true;
        thread!.Join();
    }

    /// <summary>Removes every CHAOS-IMP- chain (and the jumps to it) an earlier, killed run left in <paramref name="netns"/>.</summary>
    public static void RemoveLeftovers(string netns)
    {
        if (!File.Exists(NetnsPath(netns))) return;
        foreach (var tool in IptablesCandidates())
        {
            var (code, rules) = Iptables(tool, netns, ["-S"]);
            if (code != 0) continue;
            var lines = rules.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            foreach (var jump in lines.Where(l => l.StartsWith("-A ", StringComparison.Ordinal) && l.Contains(" -j " + ChainPrefix, StringComparison.Ordinal)))
                Iptables(tool, netns, ["-D", .. jump[3..].Split(' ', StringSplitOptions.RemoveEmptyEntries)]);
            foreach (var c in lines.Where(l => l.StartsWith("-N " + ChainPrefix, StringComparison.Ordinal)).Select(l => l[3..].Trim()))
            {
                Iptables(tool, netns, ["-F", c]);
                Iptables(tool, netns, ["-X", c]);
            }
        }
    }

    /// <summary>The rules this class has in <paramref name="netns"/> right now (iptables -S lines naming a CHAOS-IMP- chain).</summary>
    public static IReadOnlyList<string> RulesIn(string netns)
        => [.. IptablesCandidates().SelectMany(tool =>
        {
            var (code, rules) = Iptables(tool, netns, ["-S"]);
            return code != 0 ? [] : rules.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Where(l => l.Contains(ChainPrefix, StringComparison.Ordinal)).Select(l => $"{Path.GetFileName(tool)}: {l}");
        })];

    // ---- the iptables side ----

    private string InstallRules()
    {
        var errors = new List<string>();
        foreach (var tool in IptablesCandidates())
        {
            var (code, output) = Iptables(tool, Namespace, ["-N", chain]);
            if (code != 0) { errors.Add($"{Path.GetFileName(tool)}: {output.Trim()}"); continue; }
            try
            {
                var flag = Direction == ImpairmentDirection.Egress ? "-d" : "-s";
                foreach (var address in Exclude) Check(tool, ["-A", chain, flag, address, "-j", "RETURN"]);
                Check(tool, ["-A", chain, "-j", "NFQUEUE", "--queue-num", QueueNumber.ToString(CultureInfo.InvariantCulture), "--queue-bypass"]);
                Check(tool, ["-I", .. jumpRule]);
                return tool;
            }
            catch (Exception e)
            {
                errors.Add($"{Path.GetFileName(tool)}: {e.Message}");
                RemoveRules(tool, chain, jumpRule, Namespace);
            }
        }
        throw new InvalidOperationException($"could not install the NFQUEUE rule in {Namespace}: {(errors.Count == 0 ? "no iptables installed (apt-get install iptables)" : string.Join("; ", errors))}");

        void Check(string tool, string[] args)
        {
            var (code, output) = Iptables(tool, Namespace, args);
            if (code != 0) throw new InvalidOperationException($"`iptables {string.Join(' ', args)}` failed: {output.Trim()}");
        }
    }

    private static void RemoveRules(string tool, string chain, string[] jumpRule, string netns)
    {
        if (!File.Exists(NetnsPath(netns))) return; // the namespace (and its rules) is gone already
        while (Iptables(tool, netns, ["-D", .. jumpRule]).ExitCode == 0) { }
        Iptables(tool, netns, ["-F", chain]);
        Iptables(tool, netns, ["-X", chain]);
    }

    /// <summary>
    /// iptables-nft first (the Debian default), then iptables-legacy, then a plain iptables of neither kind; both
    /// drive the same NFQUEUE target (nft through NFT_COMPAT). Deduplicated by the binary they finally link to, so
    /// the alternatives' <c>iptables</c> symlink is not asked twice.
    /// </summary>
    private static IEnumerable<string> IptablesCandidates()
        => new[] { "iptables-nft", "iptables-legacy", "iptables" }.Select(Harness.Tools.Find).OfType<string>()
            .DistinctBy(path => File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? path);

    private static (int ExitCode, string Output) Iptables(string tool, string netns, string[] args)
    {
        var psi = new ProcessStartInfo(Harness.Tools.Find("ip") ?? "ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["netns", "exec", netns, tool, "-w", "5", .. args]) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not run ip");
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }

    private static string NetnsPath(string netns) => Path.Combine("/var/run/netns", netns);

    // ---- the queue side: one thread in the namespace reads packets and issues verdicts when due ----

    private readonly record struct Held(uint PacketId, long Sequence, long Arrived);

    private unsafe void Run()
    {
        int fd = -1;
        try
        {
            try
            {
                EnterNamespace(Namespace);
                fd = Nfq.Open(QueueNumber);
                // Verdicts are only as punctual as this thread is scheduled: ask for real-time priority (best
                // effort; it mostly sleeps in poll, and the kernel's RT throttling bounds it if it ever spins).
                var param = 10;
                Native.sched_setscheduler(0, Native.SCHED_FIFO, &param);
            }
            catch (Exception e)
            {
                startError = e;
                return;
            }
            finally
            {
                started.Set();
            }
            Loop(fd);
        }
        finally
        {
            if (fd >= 0) Nfq.Close(fd, QueueNumber);
        }
    }

    private static void EnterNamespace(string netns)
    {
        var nsfd = Native.open(NetnsPath(netns), Native.O_RDONLY | Native.O_CLOEXEC);
        if (nsfd < 0) throw new IOException($"open {NetnsPath(netns)}: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            if (Native.setns(nsfd, Native.CLONE_NEWNET) != 0) throw new IOException($"setns {netns}: errno {Marshal.GetLastPInvokeError()}");
        }
        finally
        {
            Native.close(nsfd);
        }
    }

    private unsafe void Loop(int fd)
    {
        var held = new PriorityQueue<Held, (long Due, long Seq)>();
        var heldSequences = new SortedSet<long>();
        long sequence = 0;
        var buffer = new byte[256 * 1024];
        var verdict = new byte[64];
        var messages = new List<(Nfq.MessageKind, uint, int)>(); // reused: the loop allocates nothing per packet

        while (!stopping)
        {
            // Sleep until the next verdict is due or a packet comes (at most 50 ms, to notice Dispose).
            var timeoutMs = 50;
            if (held.TryPeek(out _, out var first))
            {
                var wait = (first.Due - Stopwatch.GetTimestamp()) * 1000.0 / Stopwatch.Frequency;
                timeoutMs = (int)Math.Clamp(Math.Ceiling(wait), 0, 50);
            }
            var pfd = new Native.PollFd { Fd = fd, Events = Native.POLLIN };
            Native.poll(&pfd, 1, timeoutMs);

            // Everything that has arrived.
            while (true)
            {
                nint n;
                fixed (byte* b = buffer) n = Native.recv(fd, b, (nuint)buffer.Length, Native.MSG_DONTWAIT);
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Native.ENOBUFS) { Interlocked.Increment(ref overruns); continue; } // packets were lost to us; the kernel queue fails open when full
                    break; // EAGAIN (or EINTR: poll again)
                }
                if (n == 0) break;
                Nfq.Parse(buffer.AsSpan(0, (int)n), messages);
                foreach (var (type, id, error) in messages)
                {
                    if (type == Nfq.MessageKind.Error) { if (error != 0) Interlocked.Increment(ref verdictErrors); continue; }
                    Interlocked.Increment(ref seen);
                    var s = settings;
                    if (s.Loss > 0 && random.NextDouble() < s.Loss)
                    {
                        SendVerdict(fd, verdict, id, Nfq.NF_DROP);
                        Interlocked.Increment(ref dropped);
                        continue;
                    }
                    var delayMs = s.Delay.TotalMilliseconds + (s.Jitter > TimeSpan.Zero ? (random.NextDouble() * 2 - 1) * s.Jitter.TotalMilliseconds : 0);
                    if (s.Reorder > 0 && random.NextDouble() < s.Reorder) delayMs += s.ReorderExtra.TotalMilliseconds;
                    var seq = sequence++;
                    if (delayMs <= 0)
                    {
                        Release(fd, verdict, id, seq, heldSequences, 0);
                        continue;
                    }
                    var now = Stopwatch.GetTimestamp();
                    held.Enqueue(new Held(id, seq, now), (now + (long)(delayMs * Stopwatch.Frequency / 1000.0), seq));
                    heldSequences.Add(seq);
                    Interlocked.Increment(ref pending);
                    Interlocked.Increment(ref delayed);
                }
            }

            // Everything that is due, in due order.
            var t = Stopwatch.GetTimestamp();
            while (held.TryPeek(out var h, out var due) && due.Due <= t)
            {
                held.Dequeue();
                heldSequences.Remove(h.Sequence);
                Interlocked.Decrement(ref pending);
                Release(fd, verdict, h.PacketId, h.Sequence, heldSequences, t - h.Arrived);
            }
        }

        // Stopping: the rule is gone, so nothing new comes; let everything still held go now rather than have the
        // kernel drop it when the socket closes.
        while (held.TryDequeue(out var h, out _))
        {
            heldSequences.Remove(h.Sequence);
            Interlocked.Decrement(ref pending);
            Release(fd, verdict, h.PacketId, h.Sequence, heldSequences, Stopwatch.GetTimestamp() - h.Arrived);
        }
    }

    private void Release(int fd, byte[] verdict, uint id, long seq, SortedSet<long> stillHeld, long heldTicks)
    {
        SendVerdict(fd, verdict, id, Nfq.NF_ACCEPT);
        Interlocked.Increment(ref accepted);
        if (stillHeld.Count > 0 && stillHeld.Min < seq) Interlocked.Increment(ref reordered);
        if (heldTicks > Interlocked.Read(ref maxDelayTicks)) Interlocked.Exchange(ref maxDelayTicks, heldTicks);
    }

    private void SendVerdict(int fd, byte[] buffer, uint id, uint verdict)
    {
        if (!Nfq.Verdict(fd, buffer, QueueNumber, id, verdict)) Interlocked.Increment(ref verdictErrors);
    }

    /// <summary>The nfnetlink_queue protocol: netlink messages of subsystem 3 (nfnetlink.h, nfnetlink_queue.h).</summary>
    private static unsafe class Nfq
    {
        private const ushort NFNL_SUBSYS_QUEUE = 3;
        private const ushort NFQNL_MSG_PACKET = 0, NFQNL_MSG_VERDICT = 1, NFQNL_MSG_CONFIG = 2;
        private const ushort NLMSG_ERROR = 2;
        private const ushort NLM_F_REQUEST = 1, NLM_F_ACK = 4;
        private const ushort NFQA_PACKET_HDR = 1, NFQA_VERDICT_HDR = 2;
        private const ushort NFQA_CFG_CMD = 1, NFQA_CFG_PARAMS = 2, NFQA_CFG_QUEUE_MAXLEN = 3, NFQA_CFG_MASK = 4, NFQA_CFG_FLAGS = 5;
        private const byte NFQNL_CFG_CMD_BIND = 1, NFQNL_CFG_CMD_UNBIND = 2;
        private const byte NFQNL_COPY_META = 1;
        private const uint NFQA_CFG_F_FAIL_OPEN = 1;
        private const ushort NLA_TYPE_MASK = 0x3fff;
        private const int NlMsgHdrLength = 16, NfGenMsgLength = 4;
        public const uint NF_DROP = 0, NF_ACCEPT = 1;

        public enum MessageKind { Packet, Error }

        private static int seq;

        /// <summary>A NETLINK_NETFILTER socket (in the calling thread's namespace) bound to queue <paramref name="queue"/>.</summary>
        public static int Open(int queue)
        {
            var fd = Native.socket(Native.AF_NETLINK, Native.SOCK_RAW | Native.SOCK_CLOEXEC, Native.NETLINK_NETFILTER);
            if (fd < 0) throw new IOException($"socket(AF_NETLINK, NETLINK_NETFILTER): errno {Marshal.GetLastPInvokeError()}");
            try
            {
                var addr = new Native.SockAddrNl { Family = Native.AF_NETLINK };
                if (Native.bind(fd, &addr, (uint)sizeof(Native.SockAddrNl)) != 0) throw new IOException($"bind netlink: errno {Marshal.GetLastPInvokeError()}");
                // Room for bursts: each queued packet is a ~100-byte message (metadata only).
                var size = 8 << 20;
                if (Native.setsockopt(fd, Native.SOL_SOCKET, Native.SO_RCVBUFFORCE, &size, sizeof(int)) != 0)
                    Native.setsockopt(fd, Native.SOL_SOCKET, Native.SO_RCVBUF, &size, sizeof(int));

                Request(fd, queue, attrs => Attr(attrs, NFQA_CFG_CMD, [NFQNL_CFG_CMD_BIND, 0, 0, 0]));
                Request(fd, queue, attrs =>
                {
                    // Metadata only: the verdict needs just the packet id.
                    Attr(attrs, NFQA_CFG_PARAMS, [0, 0, 0, 0, NFQNL_COPY_META]);
                    Attr(attrs, NFQA_CFG_QUEUE_MAXLEN, Be32(8192));
                    // When the kernel queue is full, let packets through rather than drop them unseen (and uncounted).
                    Attr(attrs, NFQA_CFG_FLAGS, Be32(NFQA_CFG_F_FAIL_OPEN));
                    Attr(attrs, NFQA_CFG_MASK, Be32(NFQA_CFG_F_FAIL_OPEN));
                });
                return fd;
            }
            catch
            {
                Native.close(fd);
                throw;
            }
        }

        public static void Close(int fd, int queue)
        {
            try { Request(fd, queue, attrs => Attr(attrs, NFQA_CFG_CMD, [NFQNL_CFG_CMD_UNBIND, 0, 0, 0]), ack: false); }
            catch (IOException) { } // closing the socket unbinds too
            Native.close(fd);
        }

        /// <summary>Sends a config request and (when <paramref name="ack"/>) waits for the kernel's answer, throwing on an error.</summary>
        private static void Request(int fd, int queue, Action<List<byte>> attributes, bool ack = true)
        {
            var attrs = new List<byte>();
            attributes(attrs);
            var message = Message(NFQNL_MSG_CONFIG, (ushort)(NLM_F_REQUEST | (ack ? NLM_F_ACK : 0)), queue, attrs, out var mySeq);
            fixed (byte* m = message)
                if (Native.send(fd, m, (nuint)message.Length, 0) < 0) throw new IOException($"send config: errno {Marshal.GetLastPInvokeError()}");
            if (!ack) return;
            var reply = new byte[8192];
            var deadline = Environment.TickCount64 + 2000;
            while (Environment.TickCount64 < deadline)
            {
                var pfd = new Native.PollFd { Fd = fd, Events = Native.POLLIN };
                if (Native.poll(&pfd, 1, 200) <= 0) continue;
                nint n;
                fixed (byte* r = reply) n = Native.recv(fd, r, (nuint)reply.Length, Native.MSG_DONTWAIT);
                if (n < 0) continue;
                var span = reply.AsSpan(0, (int)n);
                while (span.Length >= NlMsgHdrLength)
                {
                    var len = (int)BinaryPrimitives.ReadUInt32LittleEndian(span);
                    if (len < NlMsgHdrLength || len > span.Length) break;
                    var type = BinaryPrimitives.ReadUInt16LittleEndian(span[4..]);
                    var rseq = BinaryPrimitives.ReadUInt32LittleEndian(span[8..]);
                    if (type == NLMSG_ERROR && rseq == mySeq)
                    {
                        var error = BinaryPrimitives.ReadInt32LittleEndian(span[NlMsgHdrLength..]);
                        if (error != 0) throw new IOException($"nfqueue config for queue {queue}: errno {-error}{(-error == 16 ? " (EBUSY: another process has bound this queue)" : "")}");
                        return;
                    }
                    span = span[Math.Min(Align(len), span.Length)..];
                }
            }
            throw new IOException($"no answer from the kernel to the nfqueue config for queue {queue}");
        }

        public static bool Verdict(int fd, byte[] buffer, int queue, uint packetId, uint verdict)
        {
            // nlmsghdr (16) + nfgenmsg (4) + NFQA_VERDICT_HDR attribute (4 + 8) = 32 bytes.
            var span = buffer.AsSpan(0, 32);
            WriteHeader(span, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT, NLM_F_REQUEST, queue, 32, (uint)Interlocked.Increment(ref seq));
            BinaryPrimitives.WriteUInt16LittleEndian(span[20..], 12);
            BinaryPrimitives.WriteUInt16LittleEndian(span[22..], NFQA_VERDICT_HDR);
            BinaryPrimitives.WriteUInt32BigEndian(span[24..], verdict);
            BinaryPrimitives.WriteUInt32BigEndian(span[28..], packetId);
            fixed (byte* b = buffer)
            {
                while (true)
                {
                    var n = Native.send(fd, b, 32, 0);
                    if (n >= 0) return true;
                    if (Marshal.GetLastPInvokeError() != Native.EINTR) return false;
                }
            }
        }

        /// <summary>The packet ids (and errors) in one datagram from the kernel.</summary>
        public static void Parse(ReadOnlySpan<byte> datagram, List<(MessageKind Kind, uint PacketId, int Error)> result)
        {
            result.Clear();
            while (datagram.Length >= NlMsgHdrLength)
            {
                var len = (int)BinaryPrimitives.ReadUInt32LittleEndian(datagram);
                if (len < NlMsgHdrLength || len > datagram.Length) break;
                var type = BinaryPrimitives.ReadUInt16LittleEndian(datagram[4..]);
                var message = datagram[..len];
                if (type == NLMSG_ERROR && len >= NlMsgHdrLength + 4)
                    result.Add((MessageKind.Error, 0, BinaryPrimitives.ReadInt32LittleEndian(message[NlMsgHdrLength..])));
                else if (type == ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET))
                {
                    var attrs = message[(NlMsgHdrLength + NfGenMsgLength)..];
                    while (attrs.Length >= 4)
                    {
                        var alen = BinaryPrimitives.ReadUInt16LittleEndian(attrs);
                        var atype = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(attrs[2..]) & NLA_TYPE_MASK);
                        if (alen < 4 || alen > attrs.Length) break;
                        if (atype == NFQA_PACKET_HDR && alen >= 8)
                        {
                            result.Add((MessageKind.Packet, BinaryPrimitives.ReadUInt32BigEndian(attrs[4..]), 0));
                            break;
                        }
                        attrs = attrs[Math.Min(Align(alen), attrs.Length)..];
                    }
                }
                datagram = datagram[Math.Min(Align(len), datagram.Length)..];
            }
        }

        private static byte[] Message(ushort msg, ushort flags, int queue, List<byte> attrs, out uint mySeq)
        {
            var length = NlMsgHdrLength + NfGenMsgLength + attrs.Count;
            var message = new byte[length];
            mySeq = (uint)Interlocked.Increment(ref seq);
            WriteHeader(message, (ushort)((NFNL_SUBSYS_QUEUE << 8) | msg), flags, queue, length, mySeq);
            attrs.CopyTo(message, NlMsgHdrLength + NfGenMsgLength);
            return message;
        }

        private static void WriteHeader(Span<byte> m, int type, ushort flags, int queue, int length, uint sequence)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(m, (uint)length);
            BinaryPrimitives.WriteUInt16LittleEndian(m[4..], (ushort)type);
            BinaryPrimitives.WriteUInt16LittleEndian(m[6..], flags);
            BinaryPrimitives.WriteUInt32LittleEndian(m[8..], sequence);
            BinaryPrimitives.WriteUInt32LittleEndian(m[12..], 0); // port id: the kernel
            m[16] = 0; // nfgen_family AF_UNSPEC
            m[17] = 0; // NFNETLINK_V0
            BinaryPrimitives.WriteUInt16BigEndian(m[18..], (ushort)queue); // res_id: the queue number
        }

        private static void Attr(List<byte> to, ushort type, byte[] payload)
        {
            var len = 4 + payload.Length;
            to.Add((byte)len); to.Add((byte)(len >> 8));
            to.Add((byte)type); to.Add((byte)(type >> 8));
            to.AddRange(payload);
            while (to.Count % 4 != 0) to.Add(0);
        }

        private static byte[] Be32(uint v)
        {
            var b = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(b, v);
            return b;
        }

        private static int Align(int len) => (len + 3) & ~3;
    }

    private static unsafe partial class Native
    {
        public const int AF_NETLINK = 16, SOCK_RAW = 3, SOCK_CLOEXEC = 0x80000, NETLINK_NETFILTER = 12;
        public const int SOL_SOCKET = 1, SO_RCVBUF = 8, SO_RCVBUFFORCE = 33;
        public const int O_RDONLY = 0, O_CLOEXEC = 0x80000, CLONE_NEWNET = 0x40000000;
        public const int MSG_DONTWAIT = 0x40, EINTR = 4, ENOBUFS = 105;
        public const short POLLIN = 1;
        public const int SCHED_FIFO = 1;

        [StructLayout(LayoutKind.Sequential)]
        public struct SockAddrNl { public ushort Family; public ushort Pad; public uint PortId; public uint Groups; }

        [StructLayout(LayoutKind.Sequential)]
        public struct PollFd { public int Fd; public short Events; public short Revents; }

        [LibraryImport("libc", SetLastError = true)] public static partial int socket(int domain, int type, int protocol);
        [LibraryImport("libc", SetLastError = true)] public static partial int bind(int fd, SockAddrNl* addr, uint len);
        [LibraryImport("libc", SetLastError = true)] public static partial int setsockopt(int fd, int level, int name, void* value, int len);
        [LibraryImport("libc", SetLastError = true)] public static partial nint send(int fd, void* buf, nuint len, int flags);
        [LibraryImport("libc", SetLastError = true)] public static partial nint recv(int fd, void* buf, nuint len, int flags);
        [LibraryImport("libc", SetLastError = true)] public static partial int poll(PollFd* fds, nuint n, int timeoutMs);
        [LibraryImport("libc", SetLastError = true)] public static partial int setns(int fd, int nstype);
        [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int open(string path, int flags);
        [LibraryImport("libc", SetLastError = true)] public static partial int close(int fd);
        [LibraryImport("libc", SetLastError = true)] public static partial int sched_setscheduler(int pid, int policy, int* param);
    }
}
