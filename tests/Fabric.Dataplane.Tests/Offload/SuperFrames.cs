using System.Buffers.Binary;
using Fabric.Dataplane.Offload;
using Fabric.Dataplane.Packets;

namespace Fabric.Dataplane.Tests.Offload;

/// <summary>What a TAP with TSO hands us: a TCP super-frame with a partial checksum, built independently of the code under test.</summary>
public static class SuperFrames
{
    public const byte Ack = 0x10, Psh = 0x08, Ece = 0x40, Cwr = 0x80;

    /// <summary>An IPv4 TCP frame; <paramref name="partial"/>: the TCP checksum field holds the pseudo-header sum (CHECKSUM_PARTIAL).</summary>
    public static byte[] Tcp4(int payload, byte flags, ushort ipId, uint seq, int optionBytes = 0, bool partial = true,
        int seed = 1, byte tos = 0, bool vlan = false)
    {
        var l3 = vlan ? 18 : 14;
        var tcpHl = 20 + optionBytes;
        var f = new byte[l3 + 20 + tcpHl + payload];
        MacAddress.Parse("02:00:00:00:00:0b").Write(f);
        MacAddress.Parse("02:00:00:00:00:0a").Write(f.AsSpan(6));
        if (vlan) { BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x8100); BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), 42); }
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l3 - 2), 0x0800);
        var ip = f.AsSpan(l3);
        ip[0] = 0x45; ip[1] = tos;
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(2), (ushort)(f.Length - l3));
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(4), ipId);
        ip[6] = 0x40; // DF
        ip[8] = 64; ip[9] = 6;
        new byte[] { 10, 0, 1, 10, 10, 0, 1, 11 }.CopyTo(ip.Slice(12));
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(10), Reference(ip.Slice(0, 20), 0));
        var tcp = ip.Slice(20);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.Slice(2), 5201);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.Slice(4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.Slice(8), 0x01020304);
        tcp[12] = (byte)(tcpHl / 4 << 4);
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp.Slice(14), 501);
        for (int i = 0; i < optionBytes; i++) tcp[20 + i] = 1; // NOPs
        var rng = new Random(seed);
        rng.NextBytes(tcp.Slice(tcpHl));
        var pseudo = PseudoSum(ip, tcp.Length);
        if (partial)
            BinaryPrimitives.WriteUInt16BigEndian(tcp.Slice(16), (ushort)~Reference([], pseudo));
        else
            BinaryPrimitives.WriteUInt16BigEndian(tcp.Slice(16), Reference(tcp, pseudo));
        return f;
    }

    /// <summary>
    /// A TCP super-frame from generated values, as the properties draw them: segment size 1..1460, 2 to 64 segments (as
    /// many as fit 64 KB), a shorter last one, ACK plus any of PSH/CWR/ECE, up to 40 option bytes, with or without a VLAN
    /// tag. Returns it with its TSO header, how many segments it makes, its header length and its TCP flags.
    /// </summary>
    public static (byte[] Frame, OffloadInfo Info, int Segments, int HeaderLength, byte Flags) Generated(int gso, int segments, int lastShort,
        byte flagBits, ushort ipId, uint seq, byte optionWords, bool vlan, int seed)
    {
        var gsoSize = 1 + gso % 1460;
        var optionBytes = optionWords % 11 * 4;
        var l3 = vlan ? 18 : 14;
        var hdr = l3 + 20 + 20 + optionBytes;
        var maxSegments = Math.Min(TcpCoalescer.MaxSegments, (65535 - (hdr - l3)) / gsoSize);
        var n = 2 + segments % (maxSegments - 1);
        var payload = (n - 1) * gsoSize + 1 + lastShort % gsoSize;
        var flags = (byte)(Ack | flagBits & (Psh | Cwr | Ece));
        var frame = Tcp4(payload, flags, ipId, seq, optionBytes, partial: true, seed, vlan: vlan);
        return (frame, TsoHeader(frame, gsoSize, vlan), n, hdr, flags);
    }

    public static ulong PseudoSum(ReadOnlySpan<byte> ip, int l4Length)
    {
        ulong s = 0;
        for (int i = 12; i < 20; i += 2) s += BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(i));
        return s + ip[9] + (ulong)l4Length;
    }

    /// <summary>A plain RFC 1071 checksum, two bytes at a time (not the production code).</summary>
    public static ushort Reference(ReadOnlySpan<byte> data, ulong sum)
    {
        int i = 0;
        for (; i + 1 < data.Length; i += 2) sum += (ulong)(data[i] << 8 | data[i + 1]);
        if (i < data.Length) sum += (ulong)data[i] << 8;
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    public static OffloadInfo TsoHeader(byte[] frame, int gsoSize, bool vlan = false)
    {
        var l4 = (vlan ? 18 : 14) + 20;
        return new OffloadInfo
        {
            Flags = VirtioNetHeader.FlagNeedsCsum, GsoType = VirtioNetHeader.GsoTcpV4, GsoSize = (ushort)gsoSize,
            // What a TAP reports: the linear length, not the headers (the segmenter must not trust it).
            HdrLen = (ushort)Math.Min(frame.Length, 128), CsumStart = (ushort)l4, CsumOffset = 16,
        };
    }
}
