using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Fabric.Actors.Intent;
using Fabric.Actors.Node;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Json;

namespace Fabric.Nodes.Http;

/// <summary>
/// Where the management endpoint listens and the bearer token it asks for. <see cref="Port"/> 0 lets the
/// system pick a free port (tests); <see cref="ManagementEndpoint.Url"/> tells which one after start.
/// </summary>
public sealed record ManagementOptions(string Address, int Port, string Token)
{
    /// <summary>HTTPS with this certificate (it must hold its key; `fabric init` writes the node's); null: plain HTTP.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? Certificate { get; init; }
}

/// <summary>
/// The management HTTP endpoint of one node (API.md, "HTTP"): health, Prometheus metrics, the OpenAPI
/// document, cluster membership, the intended configuration (networks, subnets, route tables, routes,
/// external VTEPs, endpoints) and what any node forwards with (FDB, routes, flood groups, counters).
/// Every node serves the whole cluster. Errors are RFC 9457 problem details.
/// </summary>
public static class ManagementEndpoint
{
    /// <summary>Request bodies above this are refused with 413.</summary>
    public const long MaxBodyBytes = 1024 * 1024;

    /// <summary>
    /// Request bodies of the bulk routes above this are refused with 413: 10,000 endpoint bodies of up to about 800
    /// bytes each (a body is typically 100 to 200).
    /// </summary>
    public const long MaxBulkBodyBytes = 8 * MaxBodyBytes;

    /// <summary>
    /// Kestrel's own limit: a body between <see cref="MaxBodyBytes"/> and this is read to its end and answered with a
    /// 413 problem; beyond this Kestrel cuts the connection.
    /// </summary>
    public const long DrainLimitBytes = 8 * MaxBodyBytes;

    /// <summary>JSON nesting deeper than this is refused with 400 (the API's documents are three levels deep).</summary>
    public const int MaxJsonDepth = 32;

    /// <summary>Builds (does not start) the endpoint. Start it with <c>StartAsync</c>/<c>RunAsync</c>; dispose it before the runtime.</summary>
    public static WebApplication Build(FabricRuntime runtime, ManagementOptions options)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrEmpty(options.Token))
            throw new ArgumentException("the management endpoint needs a bearer token (fabric.http.token or FABRIC_TOKEN): it is never open", nameof(options));
        if (options.Port is < 0 or > 65535)
            throw new ArgumentOutOfRangeException(nameof(options), options.Port, "the HTTP port must be 0..65535");

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(ManagementEndpoint).Assembly.GetName().Name,
            Args = [],
        });
        // Quiet unless configuration (Logging__LogLevel__Default and friends) says otherwise.
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter(BearerTokenMiddleware.AuditCategory, LogLevel.Information); // every write, with its token's name

        builder.WebHost.UseKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = DrainLimitBytes;
            foreach (var ip in ListenAddresses(options.Address))
                k.Listen(ip, options.Port, listen =>
                {
                    if (options.Certificate is { } certificate) listen.UseHttps(certificate);
                });
        });

        builder.Services.ConfigureHttpJsonOptions(o => ConfigureJson(o.SerializerOptions));
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = c =>
        {
            // Routing's own 404 and 405 (no handler ran) get a sentence and a code like every other problem.
            var p = c.ProblemDetails;
            if (p.Extensions.ContainsKey("code")) return;
            var request = c.HttpContext.Request;
            (string Code, string Detail)? generic = p.Status switch
            {
                404 => ("route-not-found", $"no route matches {request.Method} {request.Path} (see /openapi/v1.json)"),
                405 => ("method-not-allowed", $"{request.Method} is not allowed on {request.Path}"),
                415 => ("content-type-unsupported", $"send the body as application/json, not {request.ContentType}"),
                _ => null,
            };
            if (generic is not { } g) return;
            p.Detail ??= g.Detail;
            p.Extensions["code"] = g.Code;
        });
        builder.Services.AddOpenApi("v1", OpenApi.Configure);

        var metrics = new FabricMetrics(runtime);
        builder.Services.AddSingleton(runtime);
        builder.Services.AddSingleton(metrics);
        builder.Services.AddSingleton(new BearerToken(options.Token));
        builder.Services.AddSingleton(runtime.Tokens);
        builder.Services.AddSingleton<FabricApi>();
        builder.Services.AddHttpContextAccessor(); // FabricApi marks reads served from the replica

        var app = builder.Build();
        app.Lifetime.ApplicationStopped.Register(metrics.Dispose);

        app.UseStatusCodePages(); // empty 404/405 from routing become problem details too
        app.UseMiddleware<ProblemMiddleware>();
        app.UseMiddleware<BearerTokenMiddleware>();

        app.MapOpenApi("/openapi/{documentName}.json");
        HealthRoutes.Map(app, metrics);
        ClusterRoutes.Map(app);
        NetworkRoutes.Map(app);
        EndpointRoutes.Map(app);
        NodeRoutes.Map(app);
        TokenRoutes.Map(app);
        AlarmRoutes.Map(app);
        TraceRoutes.Map(app);
        var feed = runtime.System.ActorOf(Fabric.Actors.Feed.EventFeedActor.Props(runtime));
        app.Lifetime.ApplicationStopped.Register(() => feed.Tell(Akka.Actor.PoisonPill.Instance, Akka.Actor.ActorRefs.NoSender));
        EventRoutes.Map(app, feed);
        UiRoutes.Map(app);
        return app;
    }

    /// <summary>The first URL the started endpoint listens on, with the port the system picked when 0 was asked for.</summary>
    public static string Url(this WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        return addresses?.FirstOrDefault() ?? throw new InvalidOperationException("the management endpoint is not listening yet: start it first");
    }

    /// <summary>The JSON the API reads and writes: the configuration's camelCase options, strict on input.</summary>
    internal static void ConfigureJson(JsonSerializerOptions o)
    {
        var fabric = ConfigurationListing.CreateJsonOptions(indented: false);
        o.PropertyNamingPolicy = fabric.PropertyNamingPolicy;
        o.DefaultIgnoreCondition = fabric.DefaultIgnoreCondition;
        o.Encoder = fabric.Encoder;
        foreach (var c in fabric.Converters) o.Converters.Add(c);
        // Strict on input: exact (camelCase) names, no unknown fields, numbers as numbers, no duplicates, bounded depth.
        o.PropertyNameCaseInsensitive = false;
        o.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        o.NumberHandling = JsonNumberHandling.Strict;
        o.AllowDuplicateProperties = false;
        o.MaxDepth = MaxJsonDepth;
    }

    internal static JsonSerializerOptions Json(this HttpContext http)
        => http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<JsonOptions>>().Value.SerializerOptions;

    private static IPAddress[] ListenAddresses(string address)
    {
        if (string.IsNullOrWhiteSpace(address) || address is "*" or "+")
            return [IPAddress.Any];
        if (IPAddress.TryParse(address.Trim('[', ']'), out var ip))
            return [ip];
        if (string.Equals(address, "localhost", StringComparison.OrdinalIgnoreCase))
            return [IPAddress.Loopback];
        var resolved = Dns.GetHostAddresses(address);
        return resolved.Length > 0 ? resolved : throw new ArgumentException($"cannot resolve the HTTP address '{address}'");
    }
}
