using System.Reflection;
using System.Text.Json;

namespace Fabric.Nodes.Http;

/// <summary>
/// Reads a request body as <typeparamref name="T"/> and turns every way it can be wrong into a 4xx problem that
/// names the field: not JSON, not an object, an unknown field, a value of the wrong type, too deep, too large.
/// (Minimal APIs' own binding answers such requests with an empty 400; a script deserves to know what to fix.)
/// </summary>
internal readonly record struct JsonBody<T>(T? Value, IResult? Problem) where T : class
{
    /// <param name="maxBytes">The largest body taken (default <see cref="ManagementEndpoint.MaxBodyBytes"/>; the bulk routes take more).</param>
    public static async Task<JsonBody<T>> ReadAsync(HttpContext http, long maxBytes = ManagementEndpoint.MaxBodyBytes)
    {
        var request = http.Request;
        var drain = Math.Max(ManagementEndpoint.DrainLimitBytes, 2 * maxBytes);
        if (maxBytes > ManagementEndpoint.MaxBodyBytes
            && http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            size.MaxRequestBodySize = drain;
        if (request.ContentLength > drain)
            return Fail(TooLarge(maxBytes));
        if (request.ContentType is { } type && !IsJson(type))
            return Fail(Problems.Problem(StatusCodes.Status415UnsupportedMediaType, "content-type-unsupported",
                $"send the body as application/json, not {type}"));

        // Beyond the limit the rest is read and thrown away (up to Kestrel's larger drain limit) before answering 413:
        // a client still sending when the server answers and closes may get a reset instead of the problem.
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        var tooLarge = false;
        int n;
        while ((n = await request.Body.ReadAsync(chunk, http.RequestAborted)) > 0)
        {
            if (tooLarge || buffer.Length + n > maxBytes)
            {
                tooLarge = true;
                continue;
            }
            buffer.Write(chunk, 0, n);
        }
        if (tooLarge) return Fail(TooLarge(maxBytes));
        if (buffer.Length == 0)
            return Fail(Problems.Invalid("body", "body-required", $"a JSON object is required: {Example()}"));

        T? value;
        try
        {
            value = JsonSerializer.Deserialize<T>(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), http.Json());
        }
        catch (JsonException e)
        {
            return Fail(Explain(e));
        }
        catch (InvalidOperationException e)
        {
            return Fail(Problems.Invalid("body", "json-invalid", $"the body is not valid JSON: {e.Message}"));
        }
        return value is null
            ? Fail(Problems.Invalid("body", "body-required", $"a JSON object is required, not null: {Example()}"))
            : new JsonBody<T>(value, null);
    }

    private static JsonBody<T> Fail(IResult problem) => new(null, problem);

    private static IResult TooLarge(long maxBytes) => Problems.Problem(StatusCodes.Status413PayloadTooLarge, "body-too-large",
        $"the request body is larger than {maxBytes} bytes");

    private static bool IsJson(string contentType)
    {
        var media = contentType.Split(';', 2)[0].Trim();
        return media.Equals("application/json", StringComparison.OrdinalIgnoreCase)
               || media.EndsWith("+json", StringComparison.OrdinalIgnoreCase)
               || media.Equals("text/json", StringComparison.OrdinalIgnoreCase);
    }

    private static string Example() => typeof(T).GetCustomAttribute<JsonExampleAttribute>()?.Example ?? "see /openapi/v1.json";

    /// <summary>A problem naming the field at fault, in words rather than .NET type names.</summary>
    private static IResult Explain(JsonException e)
    {
        var message = e.Message;
        var field = FieldOf(e.Path);
        // Unknown field: System.Text.Json puts its name in the message, the path points at its parent.
        const string unmapped = "The JSON property '";
        if (message.StartsWith(unmapped, StringComparison.Ordinal) && message.IndexOf('\'', unmapped.Length) is var end and > 0
            && message.Contains("could not be mapped", StringComparison.Ordinal))
        {
            var name = message[unmapped.Length..end];
            // The path ends with the unknown name ("$.port.colour"); its parent holds the fields that exist.
            var full = field == name || field.EndsWith("." + name, StringComparison.Ordinal) ? field
                : string.IsNullOrEmpty(field) ? name : $"{field}.{name}";
            var parent = full.Length > name.Length ? full[..(full.Length - name.Length - 1)] : "";
            var known = KnownFields(parent);
            return Problems.Invalid(full, "field-unknown",
                $"unknown field '{full}'" + (known.Length > 0 ? $"; the fields here are {string.Join(", ", known)}" : ""));
        }
        if (message.Contains("maximum configured depth", StringComparison.Ordinal))
            return Problems.Invalid(string.IsNullOrEmpty(field) ? "body" : field, "json-too-deep",
                $"the JSON is nested deeper than {ManagementEndpoint.MaxJsonDepth} levels");
        if (message.Contains("duplicate", StringComparison.OrdinalIgnoreCase))
            return Problems.Invalid(string.IsNullOrEmpty(field) ? "body" : field, "field-duplicate",
                string.IsNullOrEmpty(field) ? "a field appears twice" : $"'{field}' appears twice");
        if (message.Contains("could not be converted", StringComparison.Ordinal))
        {
            if (string.IsNullOrEmpty(field))
                return Problems.Invalid("body", "body-not-object", $"the body must be a JSON object: {Example()}");
            return Problems.Invalid(field, "field-type", $"'{field}' must be {Expected(field)}");
        }
        return Problems.Invalid(string.IsNullOrEmpty(field) ? "body" : field, "json-invalid", $"the body is not valid JSON: {Trim(message)}");
    }

    /// <summary>"$.port.kind" → "port.kind"; "$.endpoints[3].ip" → "endpoints[3].ip" (an item of a list keeps its index); "$" → "".</summary>
    private static string FieldOf(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "$") return "";
        var p = path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
        p = p.Replace("['", ".", StringComparison.Ordinal).Replace("']", "", StringComparison.Ordinal).TrimStart('.');
        return p.StartsWith('[') ? "" : p; // "$[0]": the body itself is a list
    }

    /// <summary>The CLR property a dotted camelCase field names, walking from <typeparamref name="T"/>.</summary>
    private static Type? TypeOf(string field)
    {
        Type? t = typeof(T);
        foreach (var segment in field.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            var bracket = segment.IndexOf('[');
            var part = bracket >= 0 ? segment[..bracket] : segment;
            var prop = t?.GetProperties().FirstOrDefault(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name) == part);
            if (prop is null) return null;
            t = Nullable.GetUnderlyingType(prop.PropertyType) ?? prop.PropertyType;
            if (bracket >= 0) t = ElementOf(t); // endpoints[3]: the item, not the list
        }
        return t;
    }

    private static Type? ElementOf(Type list)
    {
        var element = list.IsArray ? list.GetElementType()
            : list.GetInterfaces().Append(list).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))?.GetGenericArguments()[0];
        return element is null ? null : Nullable.GetUnderlyingType(element) ?? element;
    }

    private static string[] KnownFields(string parent)
    {
        var t = string.IsNullOrEmpty(parent) ? typeof(T) : TypeOf(parent);
        return t is null || t == typeof(string) || t.IsPrimitive
            ? []
            : t.GetProperties().Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name)).ToArray();
    }

    private static string Expected(string field) => TypeOf(field) switch
    {
        null => "of another type",
        var t when t == typeof(string) => "a string",
        var t when t == typeof(bool) => "true or false",
        var t when t == typeof(int) || t == typeof(long) => "an integer",
        var t when t == typeof(double) => "a number",
        var t => $"an object ({string.Join(", ", t.GetProperties().Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name)))})",
    };

    private static string Trim(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}

/// <summary>A one-line example of a request body, quoted in the problems that a missing or malformed body gets.</summary>
[AttributeUsage(AttributeTargets.Class)]
internal sealed class JsonExampleAttribute(string example) : Attribute
{
    public string Example { get; } = example;
}
