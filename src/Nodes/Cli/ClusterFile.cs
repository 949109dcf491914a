using System.Text.Json;
using System.Text.Json.Serialization;

namespace Fabric.Nodes.Cli;

/// <summary><c>DIR/cluster.json</c> as API.md has it: <c>{ "token": "...", "nodes": [ { "name", "vtep", "akka", "http" } ] }</c>.</summary>
public sealed record ClusterFile(
    [property: JsonPropertyName("token")] string Token,
    [property: JsonPropertyName("nodes")] IReadOnlyList<ClusterFileNode> Nodes)
{
    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true };

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    public static ClusterFile Parse(string json)
        => JsonSerializer.Deserialize<ClusterFile>(json) is { Token: not null, Nodes: not null } f
            ? f
            : throw new CliException("cluster.json has no token or no nodes");

    public static ClusterFile Read(string path)
    {
        try { return Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new CliException($"{path} is not a cluster file: {e.Message}"); }
    }

    /// <summary>
    /// Writes through a temporary file and a rename, so a reader never sees half of it. Mode 0600 from the start: it
    /// holds the admin token (File.WriteAllText would leave it world-readable under the usual umask 022).
    /// </summary>
    public void Write(string path)
    {
        var tmp = path + ".tmp";
        File.Delete(tmp); // a leftover keeps its mode through FileMode.Create
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(tmp, options))
        using (var writer = new StreamWriter(stream))
            writer.Write(ToJson() + "\n");
        File.Move(tmp, path, overwrite: true);
    }
}

public sealed record ClusterFileNode(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("vtep")] string Vtep,
    [property: JsonPropertyName("akka")] string Akka,
    [property: JsonPropertyName("http")] string Http);
