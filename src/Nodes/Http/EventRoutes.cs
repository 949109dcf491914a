using System.Text.Json;
using System.Threading.Channels;
using Akka.Actor;
using Fabric.Actors.Feed;

namespace Fabric.Nodes.Http;

/// <summary>
/// <c>GET /api/v1/events</c>: server-sent events (same token as the API) from this node's <see cref="EventFeedActor"/>:
/// <c>hello</c>, <c>member</c>, <c>endpoint</c> (placed, moved, removed), <c>reload</c> (a change too large to list),
/// <c>alarm-raised</c>, <c>alarm-cleared</c>, <c>counters</c> (every few seconds). Each <c>data:</c> is one JSON object.
/// A client that falls <see cref="EventFeedActor.ClientQueue"/> events behind is dropped (its response ends); it
/// reconnects and reads the state again.
/// </summary>
internal static class EventRoutes
{
    public static void Map(IEndpointRouteBuilder app, IActorRef feed)
    {
        app.MapGet("/api/v1/events", async (HttpContext http, CancellationToken ct) =>
            {
                var channel = Channel.CreateBounded<FeedEvent>(new BoundedChannelOptions(EventFeedActor.ClientQueue)
                {
                    SingleReader = true,
                    FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full: the feed drops the client
                });
                var id = Guid.NewGuid();
                var json = http.Json();
                http.Response.ContentType = "text/event-stream";
                http.Response.Headers.CacheControl = "no-cache";
                http.Response.Headers["X-Accel-Buffering"] = "no";
                feed.Tell(new AddFeedClient(id, channel.Writer));
                try
                {
                    await http.Response.WriteAsync(": fabric events\n\n", ct);
                    await http.Response.Body.FlushAsync(ct);
                    await foreach (var e in channel.Reader.ReadAllAsync(ct))
                    {
                        var data = JsonSerializer.Serialize(e.Data, e.Data.GetType(), json);
                        await http.Response.WriteAsync($"event: {e.Type}\ndata: {data}\n\n", ct);
                        await http.Response.Body.FlushAsync(ct);
                    }
                }
                catch (ChannelClosedException) { } // dropped as too slow: the response ends here
                catch (OperationCanceledException) { } // the client went away
                finally
                {
                    feed.Tell(new RemoveFeedClient(id));
                }
            })
            .WithTags("events").WithTokenProblems()
            .WithName("Events")
            .WithSummary("Server-sent events: member, endpoint (placed/moved/removed), alarm-raised, alarm-cleared, counters, reload");
    }
}
