using System.CommandLine;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Fabric.Nodes.Cli.Ctl;

/// <summary>The server answered with an error (RFC 9457 problem details, or anything else that is not 2xx).</summary>
public sealed class CtlException(string message) : Exception(message);

/// <summary>An answer of the HTTP API: its raw text (for --json) and the parsed JSON (null when empty).</summary>
public sealed record CtlResponse(HttpStatusCode Status, string Raw, JsonNode? Json);

/// <summary>
/// The options every <c>fabric ctl</c> command shares, and where their defaults come from: --url, then
/// FABRIC_URL, then the first node of ./fabric-data/cluster.json; --token, then FABRIC_TOKEN, then that file.
/// </summary>
public static class CtlOptions
{
    public const string UrlVariable = "FABRIC_URL";
    public static readonly string DefaultClusterFile = Path.Combine(UpOptions.DefaultDataDir, UpPlan.ClusterFileName);

    public static readonly Option<string?> Url = new("--url") { Description = $"a node's management URL (default: ${UrlVariable}, else the first node in {DefaultClusterFile})", Recursive = true };
    public static readonly Option<string?> Token = new("--token") { Description = $"bearer token (default: ${NodeCommand.TokenVariable}, else the token in the cluster file)", Recursive = true };
    public static readonly Option<string?> Cluster = new("--cluster") { Description = $"cluster file written by `fabric up` (default {DefaultClusterFile})", Recursive = true };
    public static readonly Option<bool> Json = new("--json") { Description = "print the server's JSON as it is (for scripts)", Recursive = true };
    public static readonly Option<string?> Ca = new("--ca") { Description = "the cluster CA (PEM) to trust for https:// URLs (default: ca.crt beside the cluster file, as `fabric init` writes it)", Recursive = true };

    /// <summary>
    /// The CA file to trust for https:// URLs: --ca, else <c>ca.crt</c> in the cluster file's folder (the explicit
    /// --cluster or the default one) when it exists, else none (then only the system's roots, which never signed a
    /// `fabric init` node).
    /// </summary>
    public static string? Authority(string? ca, string? clusterFile)
    {
        if (ca is not null) return File.Exists(ca) ? ca : throw new CtlException($"--ca: the file {ca} does not exist");
        var folder = Path.GetDirectoryName(Path.GetFullPath(clusterFile ?? DefaultClusterFile))!;
        var beside = Path.Combine(folder, InitPlan.CaCertificateFile);
        return File.Exists(beside) ? beside : null;
    }

    /// <summary>Resolves URL and token as described on the class.</summary>
    public static (string Url, string? Token) Resolve(string? url, string? token, string? clusterFile, Func<string, string?> environment)
    {
        url ??= NullIfBlank(environment(UrlVariable));
        token ??= NullIfBlank(environment(NodeCommand.TokenVariable));
        if (url is null || token is null)
        {
            var path = clusterFile ?? DefaultClusterFile;
            if (File.Exists(path))
            {
                var cluster = ClusterFile.Read(path);
                url ??= cluster.Nodes.FirstOrDefault()?.Http;
                token ??= cluster.Token;
            }
            else if (clusterFile is not null) throw new CtlException($"the cluster file {clusterFile} does not exist");
        }
        if (url is null)
            throw new CtlException($"no node to talk to: pass --url (or set {UrlVariable}), or run `fabric up` here so that {DefaultClusterFile} exists");
        return (url.TrimEnd('/'), token);
    }

    private static string? NullIfBlank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;
}

/// <summary>A thin HTTP client of the management API.</summary>
/// <remarks>
/// With <paramref name="authorityFile"/> (the cluster CA) an https:// node is trusted only when its certificate chains to
/// that CA (custom root trust: the system's roots play no part); the name check stays on (`fabric init` puts the IP in
/// every node's certificate).
/// </remarks>
public sealed class CtlClient(string baseUrl, string? token, TimeSpan? timeout = null, string? authorityFile = null) : IDisposable
{
    private readonly HttpClient _http = new(Handler(authorityFile)) { Timeout = timeout ?? TimeSpan.FromSeconds(60) };

    public string BaseUrl { get; } = baseUrl;

    public static CtlClient From(ParseResult parse)
    {
        var cluster = parse.GetValue(CtlOptions.Cluster);
        var (url, token) = CtlOptions.Resolve(parse.GetValue(CtlOptions.Url), parse.GetValue(CtlOptions.Token), cluster,
            Environment.GetEnvironmentVariable);
        return new CtlClient(url, token, authorityFile: CtlOptions.Authority(parse.GetValue(CtlOptions.Ca), cluster));
    }

    private static SocketsHttpHandler Handler(string? authorityFile)
    {
        var handler = new SocketsHttpHandler();
        if (authorityFile is null) return handler;
        X509Certificate2 authority;
        try { authority = Fabric.Actors.Cluster.RemoteTls.LoadCertificate(authorityFile, "--ca"); }
        catch (Akka.Configuration.ConfigurationException e) { throw new CtlException(e.Message); }
        handler.SslOptions.CertificateChainPolicy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            CustomTrustStore = { authority },
            RevocationMode = X509RevocationMode.NoCheck,
            DisableCertificateDownloads = true,
        };
        return handler;
    }

    /// <summary>Why the TLS handshake failed, in words (the inner AuthenticationException says "RemoteCertificateChainErrors").</summary>
    private string TlsHint(HttpRequestException e)
    {
        if (!BaseUrl.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || e.InnerException is not System.Security.Authentication.AuthenticationException)
            return "(is the cluster running? `fabric up` prints the URLs)";
        return authorityFile is null
            ? $"(its certificate is not signed by a CA this client trusts: pass --ca DIR/{InitPlan.CaCertificateFile}, or --cluster DIR/cluster.json with {InitPlan.CaCertificateFile} beside it)"
            : $"(its certificate is not signed by the cluster CA in {authorityFile}, or does not name the address in the URL)";
    }

    public Task<CtlResponse> GetAsync(string path, CancellationToken ct = default) => SendAsync(HttpMethod.Get, path, null, ct);
    public Task<CtlResponse> PostAsync(string path, JsonObject body, CancellationToken ct = default) => SendAsync(HttpMethod.Post, path, body, ct);
    public Task<CtlResponse> PutAsync(string path, JsonObject body, CancellationToken ct = default) => SendAsync(HttpMethod.Put, path, body, ct);
    public Task<CtlResponse> DeleteAsync(string path, CancellationToken ct = default) => SendAsync(HttpMethod.Delete, path, null, ct);

    public async Task<CtlResponse> SendAsync(HttpMethod method, string path, JsonObject? body, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(method, BaseUrl + path);
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null) request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, ct);
        }
        catch (HttpRequestException e)
        {
            throw new CtlException($"cannot reach {BaseUrl}: {e.Message} {TlsHint(e)}");
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new CtlException($"{method} {BaseUrl}{path} did not answer within {_http.Timeout.TotalSeconds:0} s");
        }
        using (response)
        {
            var raw = await response.Content.ReadAsStringAsync(ct);
            JsonNode? json = null;
            if (!string.IsNullOrWhiteSpace(raw))
            {
                try { json = JsonNode.Parse(raw); }
                catch (JsonException) { json = null; }
            }
            if (!response.IsSuccessStatusCode) throw new CtlException(DescribeError(response.StatusCode, raw, json));
            return new CtlResponse(response.StatusCode, raw, json);
        }
    }

    /// <summary>One line for an error answer: status, title, detail, and each invalid field with its messages.</summary>
    public static string DescribeError(HttpStatusCode status, string raw, JsonNode? json)
    {
        var code = (int)status;
        if (json is JsonObject problem)
        {
            var title = Text(problem["title"]) ?? status.ToString();
            var detail = Text(problem["detail"]);
            var line = new StringBuilder($"{code} {title}");
            var fields = problem["errors"] is JsonObject errors
                ? errors.Select(kv => (Field: kv.Key, Messages: kv.Value is JsonArray a ? a.Select(Text).OfType<string>().ToArray() : [Text(kv.Value) ?? ""])).ToArray()
                : [];
            // The field's message often is the detail itself: then say it once, after the field's name.
            var onlyRepeatDetail = detail is not null && fields.Length > 0 && fields.All(f => f.Messages.All(m => m == detail));
            if (onlyRepeatDetail)
                line.Append(": ").Append(string.Join(", ", fields.Select(f => f.Field))).Append(": ").Append(detail);
            else
            {
                if (detail is not null && detail != title) line.Append(": ").Append(detail);
                if (fields.Length > 0)
                {
                    var listed = string.Join("; ", fields.Select(f => $"{f.Field}: {string.Join(", ", f.Messages)}"));
                    line.Append(detail is null ? ": " + listed : " (" + listed + ")");
                }
            }
            return line.ToString();
        }
        var hint = status switch
        {
            HttpStatusCode.Unauthorized => " (no token: pass --token or set FABRIC_TOKEN)",
            HttpStatusCode.Forbidden => " (wrong token)",
            _ => "",
        };
        var text = string.IsNullOrWhiteSpace(raw) ? status.ToString() : raw.ReplaceLineEndings(" ").Trim();
        return $"{code} {(text.Length > 200 ? text[..200] + " …" : text)}{hint}";
    }

    internal static string? Text(JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => node.ToJsonString(),
    };

    public void Dispose() => _http.Dispose();
}
