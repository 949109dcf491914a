using System.Buffers.Binary;
using System.Globalization;

namespace Fabric.Dataplane.Packets;

/// <summary>A 48-bit Ethernet address held in the low bits of a ulong, so that tables can hash it cheaply.</summary>
public readonly record struct MacAddress(ulong Value) : IComparable<MacAddress>
{
    public static readonly MacAddress Broadcast = new(0xFFFF_FFFF_FFFFUL);
    public static readonly MacAddress Zero = new(0);

    /// <summary>Group bit: the least significant bit of the first octet (broadcast is a group address too).</summary>
    public bool IsMulticast => (Value & 0x0100_0000_0000UL) != 0;
    public bool IsBroadcast => Value == Broadcast.Value;
    public bool IsZero => Value == 0;
    public bool IsUnicast => !IsMulticast && !IsZero;

    public static MacAddress Read(ReadOnlySpan<byte> src)
        => new(((ulong)BinaryPrimitives.ReadUInt16BigEndian(src) << 32) | BinaryPrimitives.ReadUInt32BigEndian(src.Slice(2)));

    public void Write(Span<byte> dst)
    {
        BinaryPrimitives.WriteUInt16BigEndian(dst, (ushort)(Value >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(dst.Slice(2), (uint)Value);
    }

    public static MacAddress Parse(string text)
    {
        if (!TryParse(text, out var mac)) throw new FormatException($"'{text}' is not a MAC address (expected aa:bb:cc:dd:ee:ff)");
        return mac;
    }

    public static bool TryParse(string? text, out MacAddress mac)
    {
        mac = default;
        if (text is null || text.Length != 17) return false;
        ulong v = 0;
        for (int i = 0; i < 6; i++)
        {
            if (i > 0 && text[i * 3 - 1] != ':' && text[i * 3 - 1] != '-') return false;
            if (!byte.TryParse(text.AsSpan(i * 3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b)) return false;
            v = (v << 8) | b;
        }
        mac = new MacAddress(v);
        return true;
    }

    public int CompareTo(MacAddress other) => Value.CompareTo(other.Value);

    public override string ToString()
        => string.Create(17, Value, static (s, v) =>
        {
            const string hex = "0123456789abcdef";
            for (int i = 0; i < 6; i++)
            {
                var b = (byte)(v >> (40 - 8 * i));
                s[i * 3] = hex[b >> 4];
                s[i * 3 + 1] = hex[b & 0xF];
                if (i < 5) s[i * 3 + 2] = ':';
            }
        });
}
