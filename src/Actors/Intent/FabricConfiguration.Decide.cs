using System.Text.RegularExpressions;
using Fabric.Dataplane.Packets;

namespace Fabric.Actors.Intent;

public sealed partial record FabricConfiguration
{
    public const int MinVni = 1;
    public const int MaxVni = 16_777_215;

    /// <summary>
    /// Checks <paramref name="command"/> against every rule and returns the events that carry it out, or
    /// the first rule it breaks. Pure: the configuration is the same afterwards whatever the outcome.
    /// </summary>
    public Decision Decide(ConfigurationCommand command) => command switch
    {
        CreateNetwork c => DecideCreateNetwork(c),
        DeleteNetwork c => DecideDeleteNetwork(c),
        CreateSubnet c => DecideCreateSubnet(c),
        DeleteSubnet c => DecideDeleteSubnet(c),
        BindSubnetRouteTable c => DecideBindSubnetRouteTable(c),
        CreateRouteTable c => DecideCreateRouteTable(c),
        DeleteRouteTable c => DecideDeleteRouteTable(c),
        AddRoute c => DecideAddRoute(c),
        RemoveRoute c => DecideRemoveRoute(c),
        AddExternalVtep c => DecideAddExternalVtep(c),
        RemoveExternalVtep c => DecideRemoveExternalVtep(c),
        CreateEndpoint c => DecideCreateEndpoint(c),
        MoveEndpoint c => DecideMoveEndpoint(c),
        DeleteEndpoint c => DecideDeleteEndpoint(c),
        CreateEndpoints c => DecideCreateEndpoints(c),
        DeleteEndpoints c => DecideDeleteEndpoints(c),
        CreateToken c => DecideCreateToken(c),
        RevokeToken c => DecideRevokeToken(c),
        _ => Rejection.Invalid("", "unknown-command", $"{command.GetType().Name} is not a configuration command"),
    };

    // ---- shared checks ------------------------------------------------------------------------------

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();

    /// <summary>Names (of networks, subnets, route tables, endpoints, nodes, namespaces): 1-63 of [A-Za-z0-9._-], not starting with a symbol.</summary>
    private static Rejection? CheckName(string? value, string field, string what)
    {
        if (string.IsNullOrEmpty(value))
            return Rejection.Invalid(field, $"{Kebab(field)}-required", $"{what} is required");
        if (!NamePattern().IsMatch(value))
            return Rejection.Invalid(field, $"{Kebab(field)}-invalid",
                $"'{value}' is not a valid {what}: use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit");
        return null;
    }

    private static Rejection? ParsePrefix(string? text, string field, string what, out Ipv4Prefix prefix)
    {
        prefix = default;
        if (string.IsNullOrEmpty(text))
            return Rejection.Invalid(field, $"{Kebab(field)}-required", $"{what} is required");
        if (!Ipv4Prefix.TryParse(text, out prefix, out var error))
            return Rejection.Invalid(field, $"{Kebab(field)}-invalid", error);
        return null;
    }

    private static Rejection? ParseAddress(string? text, string field, string what, out Ipv4Address address)
    {
        address = default;
        if (string.IsNullOrEmpty(text))
            return Rejection.Invalid(field, $"{Kebab(field)}-required", $"{what} is required");
        if (!Ipv4Address.TryParse(text, out address))
            return Rejection.Invalid(field, $"{Kebab(field)}-invalid", $"'{text}' is not an IPv4 address (expected a.b.c.d)");
        return null;
    }

    /// <summary>A prefix long enough to hold a network address, a gateway, one host and a broadcast address.</summary>
    private static Rejection? CheckRoomForHosts(Ipv4Prefix prefix, string field, string what)
        => prefix.Length > 30
            ? Rejection.Invalid(field, $"{Kebab(field)}-too-small", $"{what} {prefix} is too small: use /30 or shorter")
            : null;

    private Rejection? FindNetwork(string networkId, out NetworkState network)
    {
        if (Networks.TryGetValue(networkId, out network!)) return null;
        return Rejection.NotFound("networkId", "network-not-found", $"network {networkId} does not exist");
    }

    private static Rejection? RequireL3(NetworkState n, string what)
        => n.Network.Kind == NetworkKind.L3
            ? null
            : Rejection.Conflict("networkId", "network-not-l3", $"{what} only exist in l3 networks; network {Describe(n.Network)} is l2");

    private static string Describe(Network n) => $"{n.Name} ({n.Id})";

    private static string Kebab(string field)
    {
        var sb = new System.Text.StringBuilder(field.Length + 4);
        foreach (var ch in field)
        {
            if (ch == '.') sb.Append('-');
            else if (char.IsUpper(ch)) sb.Append('-').Append(char.ToLowerInvariant(ch));
            else sb.Append(ch);
        }
        return sb.ToString();
    }
}
