using System.Net;
using Fabric.Dataplane.Packets;

namespace Fabric.Dataplane.Tests.Packets;

public class MacAddressTests
{
    [Theory]
    [InlineData("aa:bb:cc:dd:ee:ff", 0xAABBCCDDEEFFUL)]
    [InlineData("AA-BB-CC-DD-EE-FF", 0xAABBCCDDEEFFUL)]
    [InlineData("00:00:00:00:00:01", 1UL)]
    [InlineData("ff:ff:ff:ff:ff:ff", 0xFFFFFFFFFFFFUL)]
    public void Mac_parses_colon_or_dash_separated_hex(string text, ulong value)
    {
        Assert.True(MacAddress.TryParse(text, out var mac));
        Assert.Equal(value, mac.Value);
        Assert.Equal(mac, MacAddress.Parse(text));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("aa:bb:cc:dd:ee")]
    [InlineData("aa:bb:cc:dd:ee:f")]
    [InlineData("aa:bb:cc:dd:ee:ff:00")]
    [InlineData("aa.bb.cc.dd.ee.ff")]
    [InlineData("aabb:ccdd:eeff:")]
    [InlineData("gg:bb:cc:dd:ee:ff")]
    [InlineData(" a:bb:cc:dd:ee:ff")]
    [InlineData("+a:bb:cc:dd:ee:ff")]
    [InlineData("aabbccddeeff")]
    public void Mac_rejects_malformed_text(string? text)
    {
        Assert.False(MacAddress.TryParse(text, out var mac));
        Assert.Equal(default, mac);
        if (text is not null) Assert.Throws<FormatException>(() => MacAddress.Parse(text));
    }

    [Fact]
    public void Mac_prints_lowercase_colon_separated_and_parses_back()
    {
        var mac = new MacAddress(0x0A1B2C3D4E5FUL);
        Assert.Equal("0a:1b:2c:3d:4e:5f", mac.ToString());
        Assert.Equal(mac, MacAddress.Parse(mac.ToString()));
    }

    [Fact]
    public void Mac_writes_and_reads_six_bytes_in_network_order()
    {
        var buf = new byte[8];
        MacAddress.Parse("01:23:45:67:89:ab").Write(buf.AsSpan(1));
        Assert.Equal(new byte[] { 0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0 }, buf);
        Assert.Equal(0x0123456789abUL, MacAddress.Read(buf.AsSpan(1)).Value);
    }

    [Theory]
    [InlineData("01:00:5e:00:00:01", true, false)]  // IPv4 multicast MAC
    [InlineData("33:33:00:00:00:01", true, false)]  // IPv6 multicast MAC
    [InlineData("03:00:00:00:00:00", true, false)]  // group bit plus locally administered bit
    [InlineData("ff:ff:ff:ff:ff:ff", true, true)]
    [InlineData("02:00:00:00:00:01", false, false)] // locally administered unicast: bit 1, not the group bit
    [InlineData("00:00:00:00:00:01", false, false)]
    [InlineData("10:00:00:00:00:00", false, false)] // the high bit of the first octet is not the group bit
    [InlineData("fe:ff:ff:ff:ff:ff", false, false)] // everything but the group bit
    [InlineData("00:00:01:00:00:00", false, false)] // group bit position in a later octet means nothing
    public void Mac_group_bit_is_the_low_bit_of_the_first_octet(string text, bool multicast, bool broadcast)
    {
        var mac = MacAddress.Parse(text);
        Assert.Equal(multicast, mac.IsMulticast);
        Assert.Equal(broadcast, mac.IsBroadcast);
        Assert.Equal(!multicast, mac.IsUnicast);
    }

    [Fact]
    public void Mac_zero_is_neither_unicast_nor_multicast()
    {
        Assert.True(MacAddress.Zero.IsZero);
        Assert.False(MacAddress.Zero.IsUnicast);
        Assert.False(MacAddress.Zero.IsMulticast);
        Assert.True(MacAddress.Broadcast.IsBroadcast);
    }

    [Fact]
    public void Mac_orders_by_numeric_value()
    {
        Assert.True(MacAddress.Parse("00:00:00:00:01:00").CompareTo(MacAddress.Parse("00:00:00:00:00:ff")) > 0);
        Assert.True(MacAddress.Parse("01:00:00:00:00:00").CompareTo(MacAddress.Parse("00:ff:ff:ff:ff:ff")) > 0);
    }
}

public class Ipv4AddressTests
{
    [Theory]
    [InlineData("0.0.0.0", 0u)]
    [InlineData("10.0.1.2", 0x0A000102u)]
    [InlineData("192.168.255.1", 0xC0A8FF01u)]
    [InlineData("255.255.255.255", 0xFFFFFFFFu)]
    [InlineData("1.20.100.0", 0x01146400u)]
    public void Ipv4_parses_dotted_quad_to_host_order_value(string text, uint value)
    {
        Assert.True(Ipv4Address.TryParse(text, out var a));
        Assert.Equal(value, a.Value);
        Assert.Equal(text, a.ToString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("10.1")]         // IPAddress.TryParse would accept this shorthand as 10.0.0.1
    [InlineData("10.1.2")]
    [InlineData("167772161")]    // a bare 32-bit number
    [InlineData("1.2.3.4.5")]
    [InlineData("256.0.0.1")]
    [InlineData("1.2.3.-1")]
    [InlineData("1..2.3")]
    [InlineData("1.2.3.")]
    [InlineData(".1.2.3")]
    [InlineData(" 1.2.3.4")]
    [InlineData("1.2.3.4 ")]
    [InlineData("a.b.c.d")]
    [InlineData("::1")]
    [InlineData("::ffff:1.2.3.4")]
    [InlineData("1.2.3.4/32")]
    [InlineData("010.0.0.1")]    // IPAddress.TryParse reads this as octal: 8.0.0.1
    [InlineData("10.1.1.010")]   // ... and this as 10.1.1.8
    [InlineData("0x0a.0.0.1")]   // ... and this as hex: 10.0.0.1
    [InlineData("1.2.3.0004")]
    [InlineData("1.2.3.\u0664")] // a non-ASCII digit
    public void Ipv4_rejects_anything_but_four_plain_decimal_parts(string? text)
    {
        Assert.False(Ipv4Address.TryParse(text, out var a));
        Assert.Equal(default, a);
        if (text is not null) Assert.Throws<FormatException>(() => Ipv4Address.Parse(text));
    }

    [Theory]
    [InlineData("224.0.0.1", true)]
    [InlineData("239.255.255.255", true)]
    [InlineData("223.255.255.255", false)]
    [InlineData("240.0.0.0", false)]
    [InlineData("255.255.255.255", false)]
    public void Ipv4_multicast_is_224_slash_4(string text, bool multicast)
        => Assert.Equal(multicast, Ipv4Address.Parse(text).IsMulticast);

    [Fact]
    public void Ipv4_limited_broadcast_and_zero_are_recognised()
    {
        Assert.True(Ipv4Address.Parse("255.255.255.255").IsLimitedBroadcast);
        Assert.Equal(Ipv4Address.LimitedBroadcast, Ipv4Address.Parse("255.255.255.255"));
        Assert.False(Ipv4Address.Parse("10.255.255.255").IsLimitedBroadcast);
        Assert.True(Ipv4Address.Any.IsZero);
    }

    [Fact]
    public void Ipv4_converts_to_and_from_IPAddress()
    {
        var a = Ipv4Address.Parse("172.16.5.4");
        Assert.Equal(IPAddress.Parse("172.16.5.4"), a.ToIPAddress());
        Assert.Equal(a, Ipv4Address.FromIPAddress(IPAddress.Parse("172.16.5.4")));
        Assert.Throws<ArgumentException>(() => Ipv4Address.FromIPAddress(IPAddress.IPv6Loopback));
    }

    [Fact]
    public void Ipv4_writes_and_reads_network_order()
    {
        var buf = new byte[4];
        Ipv4Address.Parse("1.2.3.4").Write(buf);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, buf);
        Assert.Equal(0x01020304u, Ipv4Address.Read(buf).Value);
    }
}

public class Ipv4PrefixTests
{
    [Theory]
    [InlineData("10.0.0.0/8", 0x0A000000u, 8)]
    [InlineData("0.0.0.0/0", 0u, 0)]
    [InlineData("192.168.1.7/32", 0xC0A80107u, 32)]
    [InlineData("172.16.0.0/12", 0xAC100000u, 12)]
    public void Prefix_parses_cidr(string text, uint network, int length)
    {
        Assert.True(Ipv4Prefix.TryParse(text, out var p, out var error));
        Assert.Equal("", error);
        Assert.Equal(network, p.Network.Value);
        Assert.Equal(length, p.Length);
        Assert.Equal(text, p.ToString());
        Assert.Equal(p, Ipv4Prefix.Parse(text));
    }

    [Theory]
    [InlineData("10.0.0.1/8", "host bits")]
    [InlineData("11.0.0.0/7", "host bits")]
    [InlineData("192.168.1.128/24", "host bits")]
    [InlineData("10.0.0.0/33", "outside 0..32")]
    [InlineData("10.0.0.0/-1", "outside 0..32")]
    [InlineData("10.0.0.0/+8", "outside 0..32")]
    [InlineData("10.0.0.0/ 8", "outside 0..32")]
    [InlineData("10.0.0.0/", "outside 0..32")]
    [InlineData("10.0.0.0/99999999999", "outside 0..32")]
    [InlineData("10.1/16", "no valid IPv4")]
    [InlineData("010.0.0.0/8", "no valid IPv4")]
    [InlineData("/8", "no valid IPv4")]
    [InlineData("10.0.0.0", "not a CIDR")]
    [InlineData("", "not a CIDR")]
    [InlineData(null, "not a CIDR")]
    public void Prefix_rejects_with_a_reason(string? text, string reason)
    {
        Assert.False(Ipv4Prefix.TryParse(text, out var p, out var error));
        Assert.Contains(reason, error);
        Assert.Equal(default, p);
        if (text is not null) Assert.Throws<FormatException>(() => Ipv4Prefix.Parse(text));
    }

    [Fact]
    public void Prefix_with_host_bits_suggests_the_network()
    {
        Assert.False(Ipv4Prefix.TryParse("10.1.2.3/16", out _, out var error));
        Assert.Contains("10.1.0.0/16", error);
    }

    [Fact]
    public void Prefix_constructor_clears_host_bits_and_checks_length()
    {
        var p = new Ipv4Prefix(Ipv4Address.Parse("10.1.2.3"), 16);
        Assert.Equal(Ipv4Address.Parse("10.1.0.0"), p.Network);
        Assert.Equal(0xFFFF0000u, p.Mask);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Ipv4Prefix(Ipv4Address.Any, 33));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Ipv4Prefix(Ipv4Address.Any, -1));
    }

    [Theory]
    [InlineData(0, 0u)]
    [InlineData(1, 0x80000000u)]
    [InlineData(24, 0xFFFFFF00u)]
    [InlineData(31, 0xFFFFFFFEu)]
    [InlineData(32, 0xFFFFFFFFu)]
    public void Prefix_mask_has_length_leading_ones(int length, uint mask) => Assert.Equal(mask, Ipv4Prefix.MaskOf(length));

    [Theory]
    [InlineData("10.0.1.0/24", "10.0.1.0", true)]
    [InlineData("10.0.1.0/24", "10.0.1.255", true)]
    [InlineData("10.0.1.0/24", "10.0.2.0", false)]
    [InlineData("10.0.1.0/24", "10.0.0.255", false)]
    [InlineData("0.0.0.0/0", "255.255.255.255", true)]
    [InlineData("10.0.1.5/32", "10.0.1.5", true)]
    [InlineData("10.0.1.5/32", "10.0.1.4", false)]
    public void Prefix_contains_exactly_its_address_range(string prefix, string address, bool contained)
        => Assert.Equal(contained, Ipv4Prefix.Parse(prefix).Contains(Ipv4Address.Parse(address)));

    [Theory]
    [InlineData("10.0.0.0/8", "10.1.0.0/16", true, true)]
    [InlineData("10.1.0.0/16", "10.0.0.0/8", false, true)]
    [InlineData("10.0.0.0/8", "10.0.0.0/8", true, true)]
    [InlineData("10.0.0.0/8", "11.0.0.0/8", false, false)]
    [InlineData("10.0.0.0/9", "10.128.0.0/9", false, false)]
    [InlineData("0.0.0.0/0", "192.168.0.0/16", true, true)]
    public void Prefix_contains_and_overlaps_other_prefixes(string a, string b, bool aContainsB, bool overlap)
    {
        var pa = Ipv4Prefix.Parse(a);
        var pb = Ipv4Prefix.Parse(b);
        Assert.Equal(aContainsB, pa.Contains(pb));
        Assert.Equal(overlap, pa.Overlaps(pb));
        Assert.Equal(overlap, pb.Overlaps(pa));
    }

    [Theory]
    [InlineData("10.0.1.0/24", "10.0.1.1", "10.0.1.255")]
    [InlineData("10.0.0.0/8", "10.0.0.1", "10.255.255.255")]
    [InlineData("10.0.1.4/30", "10.0.1.5", "10.0.1.7")]
    [InlineData("10.0.1.4/31", "10.0.1.4", "10.0.1.5")]  // RFC 3021 point-to-point: both addresses are hosts
    [InlineData("10.0.1.4/32", "10.0.1.4", "10.0.1.4")]
    [InlineData("0.0.0.0/0", "0.0.0.1", "255.255.255.255")]
    public void Prefix_first_host_and_broadcast(string prefix, string firstHost, string broadcast)
    {
        var p = Ipv4Prefix.Parse(prefix);
        Assert.Equal(Ipv4Address.Parse(firstHost), p.FirstHost);
        Assert.Equal(Ipv4Address.Parse(broadcast), p.Broadcast);
    }
}
