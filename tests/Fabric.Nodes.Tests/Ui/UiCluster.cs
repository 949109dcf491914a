using System.Text.Json.Nodes;
using Fabric.Actors.Node;
using Fabric.Nodes.Tests.Http;
using Microsoft.Playwright;

namespace Fabric.Nodes.Tests.Ui;

/// <summary>
/// Three Fabric nodes in this process, each with its HTTP endpoint (<see cref="HttpCluster"/>), one
/// network with an endpoint on each node, and one headless Debian chromium driven by Playwright, shared by the page tests.
/// </summary>
public sealed class UiCluster : IAsyncLifetime
{
    public const int Nodes = 3;
    public const string Token = "ui-tests-token-3b9d";
    /// <summary>The system browser: Playwright's own download cannot run here (scripts/setup.sh installs the package).</summary>
    public const string Chromium = "/usr/bin/chromium";

    private HttpCluster? _cluster;
    private IPlaywright? _playwright;

    public static string Name(int i) => $"ui-{i + 1}";
    public IReadOnlyList<FabricRuntime> Runtimes => _cluster!.Runtimes;
    public List<Api> Apis => _cluster!.Apis;
    public List<string> Urls => _cluster!.Urls;
    public IBrowser Browser { get; private set; } = null!;
    public string NetworkId { get; private set; } = "";
    public int Vni { get; private set; }
    public List<JsonNode> Endpoints { get; } = new();

    public async Task InitializeAsync()
    {
        if (ChromiumFactAttribute.Missing() is not null) return; // the tests skip; start nothing
        _cluster = await HttpCluster.StartAsync(Nodes, Token, Name, dataplane: true, prefix: "fabric-ui");

        var vni = Random.Shared.Next(3_000_000, 4_000_000);
        var net = await Apis[0].Create("/api/v1/networks", new { name = "blue", vni, kind = "l3", cidr = "10.61.0.0/16" });
        NetworkId = net["id"]!.GetValue<string>();
        Vni = vni;
        await Apis[0].Create($"/api/v1/networks/{NetworkId}/subnets", new { name = "web", cidr = "10.61.1.0/24" });
        for (int i = 0; i < Nodes; i++)
            Endpoints.Add(await Apis[0].Create("/api/v1/endpoints", new { name = $"vm-{i + 1}", network = NetworkId, node = Name(i), port = new { kind = "guest" } }));

        // The cluster shares two cores with whatever else runs: give the page up to 15 s for what it shows (not 5).
        Assertions.SetDefaultExpectTimeout(15_000);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"], // root, no GPU, a small /dev/shm in containers
        });
    }

    /// <summary>A fresh tab (its own sessionStorage) on <paramref name="node"/>'s page, with a wide viewport.</summary>
    public async Task<IPage> OpenAsync(int node = 0, string query = "")
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(15_000);
        await page.GotoAsync(Urls[node] + "/ui" + query);
        return page;
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.CloseAsync();
        _playwright?.Dispose();
        if (_cluster is not null) await _cluster.DisposeAsync();
    }
}

/// <summary>A fact that needs the Debian chromium (scripts/setup.sh installs it): skipped, saying so, where it is missing.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (Missing() is { } why) Skip = why;
    }

    public static string? Missing()
        => !OperatingSystem.IsLinux() ? "the page tests drive the Debian chromium package (Linux)"
            : !File.Exists(UiCluster.Chromium) ? $"no {UiCluster.Chromium}: install the Debian chromium package (scripts/setup.sh does, as root)"
            : null;
}
