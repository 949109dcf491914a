using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Fabric.Dataplane.Packets;

namespace Fabric.Actors.Intent;

/// <summary>
/// The whole intended configuration as the API lists it, in a canonical order (ids numerically, route
/// tables by name, routes by destination, external VTEPs by address and port), so that two listings of
/// the same configuration serialize to the same bytes. <see cref="Revision"/> is the journal sequence
/// number of the last event applied.
/// </summary>
public sealed record ConfigurationListing(long Revision, IReadOnlyList<NetworkView> Networks, IReadOnlyList<Endpoint> Endpoints) : IFabricMessage
{
    private static readonly JsonSerializerOptions CanonicalOptions = CreateJsonOptions(indented: true);

    /// <summary>JSON options for configuration types: camelCase, enums and addresses as strings.</summary>
    public static JsonSerializerOptions CreateJsonOptions(bool indented) => new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = indented,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters =
        {
            new JsonStringEnumConverter(JsonNamingPolicy.CamelCase),
            new Ipv4AddressJsonConverter(),
            new Ipv4PrefixJsonConverter(),
            new MacAddressJsonConverter(),
        },
    };

    /// <summary>The canonical serialization: equal configurations give equal strings, byte for byte.</summary>
    public string ToCanonicalJson() => JsonSerializer.Serialize(this, CanonicalOptions);

    public static ConfigurationListing Of(FabricConfiguration state, long revision)
    {
        var networks = state.Networks.Values
            .OrderBy(n => n.Network.Id, EntityIds.Order)
            .Select(FabricConfiguration.ViewOf)
            .ToArray();
        var endpoints = state.Endpoints.Values.OrderBy(e => e.Id, EntityIds.Order).ToArray();
        return new ConfigurationListing(revision, networks, endpoints);
    }
}

public sealed record NetworkView(
    string Id,
    string Name,
    int Vni,
    NetworkKind Kind,
    Ipv4Prefix? Cidr,
    IReadOnlyList<Subnet> Subnets,
    IReadOnlyList<RouteTableView> RouteTables,
    IReadOnlyList<ExternalVtep> ExternalVteps);

public sealed record RouteTableView(string Name, IReadOnlyList<Route> Routes);

public sealed class Ipv4AddressJsonConverter : JsonConverter<Ipv4Address>
{
    public override Ipv4Address Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        => Ipv4Address.TryParse(reader.GetString(), out var a) ? a : throw new JsonException("expected an IPv4 address");
    public override void Write(Utf8JsonWriter writer, Ipv4Address value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
}

public sealed class Ipv4PrefixJsonConverter : JsonConverter<Ipv4Prefix>
{
    public override Ipv4Prefix Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        => Ipv4Prefix.TryParse(reader.GetString(), out var p, out var error) ? p : throw new JsonException(error);
    public override void Write(Utf8JsonWriter writer, Ipv4Prefix value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
}

public sealed class MacAddressJsonConverter : JsonConverter<MacAddress>
{
    public override MacAddress Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        => MacAddress.TryParse(reader.GetString(), out var m) ? m : throw new JsonException("expected a MAC address");
    public override void Write(Utf8JsonWriter writer, MacAddress value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
}
