using System.Net.Http.Headers;
using System.Text.Json.Nodes;

namespace Fabric.Nodes.Tests.Http;

/// <summary>A client of <c>GET /api/v1/events</c> that keeps every event it read, for tests to wait on.</summary>
public sealed class EventFeed : IAsyncDisposable
{
    public sealed record Event(string Type, JsonNode Data);

    private readonly HttpResponseMessage _response;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Event> _events = new();
    private readonly Task _reader;

    private EventFeed(HttpResponseMessage response)
    {
        _response = response;
        _reader = Task.Run(ReadAsync);
    }

    public static async Task<EventFeed> OpenAsync(HttpClient http, string token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/events");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        // The body of a stream never ends: read it only when the answer is a problem.
        if (!response.IsSuccessStatusCode)
            throw new Xunit.Sdk.XunitException($"events: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var feed = new EventFeed(response);
        await feed.WaitAsync(e => e.Type == "hello", 1, "the feed's hello");
        return feed;
    }

    public IReadOnlyList<Event> Events { get { lock (_events) return _events.ToArray(); } }

    private async Task ReadAsync()
    {
        try
        {
            using var reader = new StreamReader(await _response.Content.ReadAsStreamAsync(_stop.Token));
            string? type = null;
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal)) type = line[7..];
                else if (line.StartsWith("data: ", StringComparison.Ordinal) && type is not null)
                    lock (_events) _events.Add(new Event(type, JsonNode.Parse(line[6..])!));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException) { }
    }

    /// <summary>Waits (at most 20 s) until at least <paramref name="count"/> events match.</summary>
    public async Task WaitAsync(Func<Event, bool> match, int count, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (Events.Count(match) < count)
        {
            if (DateTime.UtcNow > deadline)
                throw new Xunit.Sdk.XunitException($"{what}: {Events.Count(match)} of {count} within 20 s; the feed had: " +
                    string.Join("\n", Events.Select(e => $"{e.Type} {e.Data.ToJsonString()}")));
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _response.Dispose();
        try { await _reader.WaitAsync(TimeSpan.FromSeconds(5)); } catch (TimeoutException) { }
        _stop.Dispose();
    }
}
