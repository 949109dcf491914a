using Fabric.Actors.Intent;
using Fabric.Dataplane.Packets;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Fabric.Nodes.Http;

/// <summary>
/// The OpenAPI document at <c>/openapi/v1.json</c>: every route, the bearer scheme (required everywhere but the
/// open routes), and addresses, prefixes and MACs described as the strings they are on the wire.
/// </summary>
internal static class OpenApi
{
    public const string SchemeName = "bearer";

    /// <summary>The operation's extension naming the token scope it needs: "read" or "admin".</summary>
    public const string ScopeExtension = "x-fabric-scope";

    public static void Configure(OpenApiOptions options)
    {
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "Fabric management API",
                Version = "v1",
                Description = "Every node serves the whole cluster. Errors are RFC 9457 problem details. "
                              + "Everything but /health/*, /metrics and /openapi/* needs 'Authorization: Bearer TOKEN': "
                              + "a token of scope read may GET, one of scope admin may do everything (each operation's x-fabric-scope says which it needs). "
                              + "401 without a token or with a revoked one (token-revoked), 403 with a wrong one (token-invalid) or too small a scope (token-scope).",
            };
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[SchemeName] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "A token of the cluster: the nodes' configured one (fabric.http.token, FABRIC_TOKEN, cluster.json; admin, named bootstrap) or one made with POST /api/v1/tokens",
            };
            document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SchemeName, document)] = [] }];
            return Task.CompletedTask;
        });

        options.AddOperationTransformer((operation, context, _) =>
        {
            if (BearerTokenMiddleware.IsOpen(new PathString("/" + context.Description.RelativePath)))
            {
                operation.Security = []; // open: overrides the document-wide requirement
                return Task.CompletedTask;
            }
            // The scope the route needs, for people (the description) and for scripts and tests (x-fabric-scope).
            var scope = BearerTokenMiddleware.ScopeFor(context.Description.HttpMethod ?? "GET",
                new EndpointMetadataCollection(context.Description.ActionDescriptor.EndpointMetadata)).Text();
            operation.Extensions ??= new Dictionary<string, IOpenApiExtension>();
            operation.Extensions[ScopeExtension] = new JsonNodeExtension(System.Text.Json.Nodes.JsonValue.Create(scope));
            operation.Description = (string.IsNullOrEmpty(operation.Description) ? "" : operation.Description + " ") + $"Needs a token of scope {scope}.";
            return Task.CompletedTask;
        });

        // Null values are left out of answers (WhenWritingNull), so a property that may be null is not required,
        // unless it is marked [Required] (request fields the configuration insists on).
        options.AddSchemaTransformer((schema, context, _) =>
        {
            if (schema.Required is not { Count: > 0 } required || context.JsonPropertyInfo is not null) return Task.CompletedTask;
            foreach (var p in context.JsonTypeInfo.Properties)
            {
                var nullable = Nullable.GetUnderlyingType(p.PropertyType) is not null || (!p.PropertyType.IsValueType && p.IsGetNullable);
                var marked = p.AttributeProvider?.IsDefined(typeof(System.ComponentModel.DataAnnotations.RequiredAttribute), inherit: true) == true;
                if (nullable && !marked) required.Remove(p.Name);
            }
            return Task.CompletedTask;
        });

        options.AddSchemaTransformer((schema, context, _) =>
        {
            var t = Nullable.GetUnderlyingType(context.JsonTypeInfo.Type) ?? context.JsonTypeInfo.Type;
            var (format, example) = t == typeof(Ipv4Address) ? ("ipv4", "10.1.1.2")
                : t == typeof(Ipv4Prefix) ? ("ipv4-cidr", "10.1.0.0/16")
                : t == typeof(MacAddress) ? ("mac", "02:fb:00:00:00:01")
                : (null, null);
            if (format is null) return Task.CompletedTask;
            schema.Type = JsonSchemaType.String;
            schema.Format = format;
            schema.Properties?.Clear();
            schema.Required?.Clear();
            schema.Description = $"e.g. {example}";
            return Task.CompletedTask;
        });
    }
}
