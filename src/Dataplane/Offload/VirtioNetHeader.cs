using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Fabric.Dataplane.Offload;

/// <summary>
/// What the kernel told us about a frame read from a TAP with IFF_VNET_HDR (or what we tell it on write): whether its
/// transport checksum is still partial and whether it is a GSO super-frame to be cut into <see cref="GsoSize"/>-byte
/// segments. Kept in the packet's metadata; offsets are from the start of the Ethernet frame. Default: a plain frame.
/// </summary>
public struct OffloadInfo
{
    public byte Flags;
    public byte GsoType;
    public ushort HdrLen;
    public ushort GsoSize;
    public ushort CsumStart;
    public ushort CsumOffset;

    public readonly bool IsPlain => (Flags | GsoType) == 0;
    public readonly bool NeedsChecksum => (Flags & VirtioNetHeader.FlagNeedsCsum) != 0;
    /// <summary>The GSO kind without the ECN bit: <see cref="VirtioNetHeader.GsoTcpV4"/>, TcpV6, UdpL4, or none.</summary>
    public readonly byte GsoKind => (byte)(GsoType & ~VirtioNetHeader.GsoEcn);
    public readonly bool IsGso => GsoKind != VirtioNetHeader.GsoNone;
}

/// <summary>
/// Reader and writer over the 10-byte <c>struct virtio_net_hdr</c> (include/uapi/linux/virtio_net.h) in front of every
/// frame of a TAP opened with IFF_VNET_HDR. Fields are in host byte order (legacy virtio; the TAP is not switched to
/// little-endian mode, and every Linux target of this project is little-endian anyway).
/// </summary>
public readonly ref struct VirtioNetHeader
{
    public const int Length = 10;
    public const byte FlagNeedsCsum = 1, FlagDataValid = 2;
    public const byte GsoNone = 0, GsoTcpV4 = 1, GsoUdp = 3, GsoTcpV6 = 4, GsoUdpL4 = 5, GsoEcn = 0x80;

    private readonly Span<byte> _b;

    public VirtioNetHeader(Span<byte> bytes)
    {
        if (bytes.Length < Length) throw new ArgumentException("a virtio_net_hdr has 10 bytes", nameof(bytes));
        _b = bytes;
    }

    public byte Flags { get => _b[0]; set => _b[0] = value; }
    public byte GsoType { get => _b[1]; set => _b[1] = value; }
    public ushort HdrLen { get => BinaryPrimitives.ReadUInt16LittleEndian(_b.Slice(2)); set => BinaryPrimitives.WriteUInt16LittleEndian(_b.Slice(2), value); }
    public ushort GsoSize { get => BinaryPrimitives.ReadUInt16LittleEndian(_b.Slice(4)); set => BinaryPrimitives.WriteUInt16LittleEndian(_b.Slice(4), value); }
    public ushort CsumStart { get => BinaryPrimitives.ReadUInt16LittleEndian(_b.Slice(6)); set => BinaryPrimitives.WriteUInt16LittleEndian(_b.Slice(6), value); }
    public ushort CsumOffset { get => BinaryPrimitives.ReadUInt16LittleEndian(_b.Slice(8)); set => BinaryPrimitives.WriteUInt16LittleEndian(_b.Slice(8), value); }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public OffloadInfo Read() => new()
    {
        Flags = Flags, GsoType = GsoType, HdrLen = HdrLen, GsoSize = GsoSize, CsumStart = CsumStart, CsumOffset = CsumOffset,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write(in OffloadInfo o)
    {
        Flags = o.Flags; GsoType = o.GsoType; HdrLen = o.HdrLen; GsoSize = o.GsoSize; CsumStart = o.CsumStart; CsumOffset = o.CsumOffset;
    }

    /// <summary>A plain frame: no partial checksum, no GSO.</summary>
    public void Clear() => _b.Slice(0, Length).Clear();
}
