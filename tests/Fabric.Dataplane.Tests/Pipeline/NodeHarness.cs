using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Pipeline;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Tests.Pipeline;

/// <summary>One transmission with its bytes copied out (the batch is reused).</summary>
public sealed record Sent(TxKind Kind, int PortId, VtepEndpoint Vtep, byte[] Bytes)
{
    /// <summary>For underlay sends: the VNI in the VXLAN header.</summary>
    public int Vni => Kind == TxKind.Underlay && VxlanHeader.TryParse(Bytes, out var h) == PacketError.None ? h.Vni : -1;
    /// <summary>The Ethernet frame: for underlay sends, the inner frame.</summary>
    public byte[] Frame => Kind == TxKind.Underlay ? Bytes[8..] : Bytes;
}

public sealed record Outcome(IReadOnlyList<Sent> Sent, IReadOnlyList<DropReason> Drops, IReadOnlyList<DataplaneEvent> Events)
{
    public DropReason SingleDrop => Assert.Single(Drops);
    public Sent Single => Assert.Single(Sent);
}

/// <summary>One node's dataplane in a test: a snapshot, a pipeline, and helpers to push frames through it.</summary>
public sealed class NodeHarness
{
    public static readonly VtepEndpoint NodeA = new(Ipv4Address.Parse("192.0.2.1"));
    public static readonly VtepEndpoint NodeB = new(Ipv4Address.Parse("192.0.2.2"));
    public static readonly VtepEndpoint NodeC = new(Ipv4Address.Parse("192.0.2.3"));

    public NodeHarness(ForwardingSnapshot snapshot, long learnIntervalMs = 1000, int underlayMtu = 0, DropSampler? samples = null)
    {
        Snapshot = snapshot;
        Events = new EventRing(1024);
        Pipeline = new ForwardingPipeline(Events, new LearnFilter(1024, learnIntervalMs), underlayMtu, samples);
    }

    public ForwardingSnapshot Snapshot { get; set; }
    public EventRing Events { get; }
    public ForwardingPipeline Pipeline { get; }
    public PacketBatch Batch { get; } = new(64, 2048);
    public TxBatch Tx { get; } = new(1024);
    public long NowMs { get; set; } = 1_000;

    public Outcome FromPort(int port, byte[] frame) => Run(b => b.AddFromPort(port, frame));
    public Outcome FromUnderlay(VtepEndpoint source, byte[] datagram) => Run(b => b.AddFromUnderlay(source, datagram));

    public Outcome Run(Action<PacketBatch> fill)
    {
        Batch.Clear();
        Tx.Clear();
        fill(Batch);
        Pipeline.Process(Snapshot, Batch, Tx, NowMs);
        var sent = new List<Sent>();
        foreach (var e in Tx.Entries)
            sent.Add(new Sent(e.Kind, e.PortId, e.Destination, Batch.SlotBytes(e.Slot, e.Offset, e.Length).ToArray()));
        var drops = new List<DropReason>();
        for (int i = 0; i < Batch.Count; i++)
            if (Batch.Meta(i).Drop != DropReason.None) drops.Add(Batch.Meta(i).Drop);
        var events = new List<DataplaneEvent>();
        while (Events.TryRead(out var ev)) events.Add(ev);
        return new Outcome(sent, drops, events);
    }
}
