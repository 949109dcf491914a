using System.Reflection;

namespace Fabric.Nodes.Http;

/// <summary>
/// <c>GET /ui</c>: the topology page, served by the node itself from resources embedded in the build (no CDN, nothing
/// fetched at run time). The page is open (a browser cannot send a bearer token when it navigates); it asks for the
/// token, keeps it in sessionStorage and sends it with every API call and the event stream, which refuse a wrong one.
/// </summary>
internal static class UiRoutes
{
    private static readonly (string Path, string Resource, string Type, string Name)[] Files =
    [
        ("/ui", "index.html", "text/html; charset=utf-8", "UiPage"),
        ("/ui/app.js", "app.js", "text/javascript; charset=utf-8", "UiScript"),
        ("/ui/app.css", "app.css", "text/css; charset=utf-8", "UiStyles"),
    ];

    public static void Map(IEndpointRouteBuilder app)
    {
        foreach (var (path, resource, type, name) in Files)
        {
            var bytes = Read(resource);
            app.MapGet(path, (HttpContext http) =>
                {
                    // The page reads nothing from elsewhere, and nothing else may frame it.
                    http.Response.Headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'";
                    http.Response.Headers.CacheControl = "no-cache";
                    return Results.Bytes(bytes, type);
                })
                .WithTags("ui").WithName(name)
                .WithSummary(resource == "index.html" ? "The topology page (open: it asks for the token and sends it with every call it makes)" : $"The topology page's {resource}")
                .Produces(StatusCodes.Status200OK, contentType: type.Split(';')[0]);
        }
    }

    private static byte[] Read(string name)
    {
        using var s = Assembly.GetExecutingAssembly().GetManifestResourceStream($"Fabric.Nodes.Ui.{name}")
            ?? throw new InvalidOperationException($"the page's resource {name} is missing from the build");
        using var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    }
}
