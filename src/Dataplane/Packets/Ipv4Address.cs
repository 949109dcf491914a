using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Fabric.Dataplane.Packets;

/// <summary>An IPv4 address in host byte order: comparisons and prefix masks are plain integer operations.</summary>
public readonly record struct Ipv4Address(uint Value) : IComparable<Ipv4Address>
{
    public static readonly Ipv4Address Any = new(0);
    public static readonly Ipv4Address LimitedBroadcast = new(0xFFFF_FFFF);

    public bool IsMulticast => (Value & 0xF000_0000) == 0xE000_0000;
    public bool IsLimitedBroadcast => Value == 0xFFFF_FFFF;
    public bool IsZero => Value == 0;

    public static Ipv4Address Read(ReadOnlySpan<byte> src) => new(BinaryPrimitives.ReadUInt32BigEndian(src));
    public void Write(Span<byte> dst) => BinaryPrimitives.WriteUInt32BigEndian(dst, Value);

    public static Ipv4Address Parse(string text)
    {
        if (!TryParse(text, out var a)) throw new FormatException($"'{text}' is not an IPv4 address");
        return a;
    }

    public static bool TryParse(string? text, out Ipv4Address address)
    {
        address = default;
        // IPAddress.TryParse accepts shorthand such as "10.1" and reads "010" as octal 8 and "0x0a" as hex; an overlay API
        // must not guess, so insist on exactly four dotted decimal parts of 1..3 digits with no leading zero.
        if (text is null) return false;
        uint value = 0;
        int part = 0, digits = 0, octet = 0;
        foreach (var c in text)
        {
            if (c == '.')
            {
                if (digits == 0 || ++part > 3) return false;
                value = (value << 8) | (uint)octet;
                digits = 0; octet = 0;
            }
            else if (c is >= '0' and <= '9')
            {
                if (digits == 1 && octet == 0) return false; // leading zero
                octet = octet * 10 + (c - '0');
                if (++digits > 3 || octet > 255) return false;
            }
            else return false;
        }
        if (part != 3 || digits == 0) return false;
        address = new Ipv4Address((value << 8) | (uint)octet);
        return true;
    }

    public static Ipv4Address FromIPAddress(IPAddress ip)
    {
        if (ip.AddressFamily != AddressFamily.InterNetwork) throw new ArgumentException("not an IPv4 address", nameof(ip));
        Span<byte> b = stackalloc byte[4];
        ip.TryWriteBytes(b, out _);
        return Read(b);
    }

    public IPAddress ToIPAddress()
    {
        Span<byte> b = stackalloc byte[4];
        Write(b);
        return new IPAddress(b);
    }

    public int CompareTo(Ipv4Address other) => Value.CompareTo(other.Value);
    public override string ToString() => $"{Value >> 24}.{(Value >> 16) & 0xFF}.{(Value >> 8) & 0xFF}.{Value & 0xFF}";
}

/// <summary>An IPv4 prefix (CIDR). The address is always stored with the host bits cleared.</summary>
public readonly record struct Ipv4Prefix
{
    public Ipv4Address Network { get; }
    public int Length { get; }

    public Ipv4Prefix(Ipv4Address address, int length)
    {
        if ((uint)length > 32) throw new ArgumentOutOfRangeException(nameof(length), "prefix length must be 0..32");
        Length = length;
        Network = new Ipv4Address(address.Value & MaskOf(length));
    }

    public uint Mask => MaskOf(Length);
    public static uint MaskOf(int length) => length == 0 ? 0u : uint.MaxValue << (32 - length);

    public bool Contains(Ipv4Address a) => (a.Value & Mask) == Network.Value;
    public bool Contains(Ipv4Prefix p) => p.Length >= Length && Contains(p.Network);
    public bool Overlaps(Ipv4Prefix p) => Contains(p) || p.Contains(this);

    /// <summary>Directed broadcast of the prefix (all host bits set).</summary>
    public Ipv4Address Broadcast => new(Network.Value | ~Mask);
    /// <summary>First usable host address: where a subnet's gateway lives.</summary>
    public Ipv4Address FirstHost => new(Network.Value + (Length >= 31 ? 0u : 1u));

    public static Ipv4Prefix Parse(string text)
    {
        if (!TryParse(text, out var p, out var error)) throw new FormatException(error);
        return p;
    }

    public static bool TryParse(string? text, out Ipv4Prefix prefix, out string error)
    {
        prefix = default;
        error = "";
        var slash = text?.IndexOf('/') ?? -1;
        if (text is null || slash < 0) { error = $"'{text}' is not a CIDR (expected a.b.c.d/len)"; return false; }
        if (!Ipv4Address.TryParse(text[..slash], out var a)) { error = $"'{text}' has no valid IPv4 address before '/'"; return false; }
        if (!int.TryParse(text.AsSpan(slash + 1), System.Globalization.NumberStyles.None, null, out var len) || len > 32)
        { error = $"'{text}' has a prefix length outside 0..32"; return false; }
        if ((a.Value & ~MaskOf(len)) != 0) { error = $"'{text}' has host bits set (did you mean {new Ipv4Prefix(a, len)}?)"; return false; }
        prefix = new Ipv4Prefix(a, len);
        return true;
    }

    public override string ToString() => $"{Network}/{Length}";
}
