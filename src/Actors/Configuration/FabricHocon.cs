using System.Reflection;
using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace Fabric.Actors.Configuration;

/// <summary>
/// Loads a node's configuration: the shipped <c>hocon/fabric.conf</c> (embedded in this assembly) and,
/// read as its continuation, the node's own file and any further override text.
/// </summary>
/// <remarks>
/// One document rather than <c>Config.WithFallback</c>: Akka.NET resolves <c>${...}</c> substitutions per
/// parsed document, so only this way does the shipped <c>${fabric.data-dir}</c> in the store's connection
/// string see the node's data-dir. <c>include "name.conf"</c> looks next to the including file first,
/// then among the shipped files (so <c>include "postgres.conf"</c> always works). Included files cannot
/// use substitutions themselves (an Akka.NET limitation); the shipped ones do not.
/// </remarks>
public static class FabricHocon
{
    private const string ResourcePrefix = "Fabric.Actors.hocon.";

    /// <summary>The text of a shipped HOCON file, e.g. "fabric.conf".</summary>
    public static string ShippedText(string fileName)
    {
        var assembly = typeof(FabricHocon).Assembly;
        using var stream = assembly.GetManifestResourceStream(ResourcePrefix + fileName)
            ?? throw new FileNotFoundException($"no shipped HOCON file '{fileName}'", fileName);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>Names of the shipped HOCON files.</summary>
    public static IReadOnlyList<string> ShippedFiles()
        => typeof(FabricHocon).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal))
            .Select(n => n[ResourcePrefix.Length..])
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>
    /// fabric.conf, then <paramref name="nodeConfigFile"/> (optional), then <paramref name="overrides"/>
    /// (optional HOCON text), as one document: later settings win.
    /// </summary>
    public static Config Load(string? nodeConfigFile = null, string? overrides = null)
    {
        var text = new System.Text.StringBuilder(ShippedText("fabric.conf")).Append('\n');
        string? baseDirectory = null;
        if (nodeConfigFile is not null)
        {
            var full = Path.GetFullPath(nodeConfigFile);
            baseDirectory = Path.GetDirectoryName(full);
            text.Append(File.ReadAllText(full)).Append('\n');
        }
        if (overrides is not null) text.Append(overrides).Append('\n');
        return Parse(text.ToString(), baseDirectory);
    }

    /// <summary>Parses HOCON text with the include rules described on the class.</summary>
    public static Config Parse(string text, string? baseDirectory = null)
        => ConfigurationFactory.ParseString(text, name => ResolveInclude(name, baseDirectory));

    private static HoconRoot ResolveInclude(string name, string? baseDirectory)
    {
        var candidates = new List<string>();
        if (Path.IsPathRooted(name)) candidates.Add(name);
        else
        {
            if (baseDirectory is not null) candidates.Add(Path.Combine(baseDirectory, name));
            candidates.Add(Path.Combine(Directory.GetCurrentDirectory(), name));
        }
        foreach (var path in candidates)
            if (File.Exists(path))
                return Parser.Parse(File.ReadAllText(path), n => ResolveInclude(n, Path.GetDirectoryName(path)));

        var shippedName = Path.GetFileName(name);
        if (ShippedFiles().Contains(shippedName))
            return Parser.Parse(ShippedText(shippedName), n => ResolveInclude(n, baseDirectory));

        throw new ConfigurationException($"HOCON include \"{name}\" not found (looked in {string.Join(", ", candidates)} and the shipped files)");
    }

    /// <summary>A HOCON quoted string (for building override text from values).</summary>
    public static string Quote(string value)
        => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
