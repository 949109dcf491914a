using System.CommandLine;
using Spectre.Console;

namespace Fabric.Nodes.Cli.Ctl;

/// <summary>
/// <c>fabric ctl tokens list|create|revoke</c>: the cluster's API tokens (an admin token is needed). Rotation without a
/// restart: create the new token, switch the clients to it, revoke the old one.
/// </summary>
public static class TokensCommand
{
    public static Command Create()
    {
        var list = new Command("list", "List the tokens: names, scopes, state, times (never a secret)");
        Ctl.SetAction(list, async (parse, client, ct) => Ctl.Show(parse, await client.GetAsync("/api/v1/tokens", ct), "tokens"));

        var name = new Option<string>("--name") { Description = "the token's name (1-63 of letters, digits, '.', '_', '-')", Required = true };
        var scope = new Option<string>("--scope") { Description = "read (every GET) or admin (everything)", Required = true };
        scope.AcceptOnlyFromAmong("read", "admin");
        var create = new Command("create", "Create a token; its secret is printed this once") { name, scope };
        Ctl.SetAction(create, async (parse, client, ct) =>
        {
            var response = await client.PostAsync("/api/v1/tokens", Ctl.Body(("name", parse.GetRequiredValue(name)), ("scope", parse.GetRequiredValue(scope))), ct);
            if (parse.GetValue(CtlOptions.Json)) return Ctl.Show(parse, response);
            var secret = CtlClient.Text(response.Json?["token"]);
            AnsiConsole.MarkupLine($"created token [bold]{Markup.Escape(CtlClient.Text(response.Json?["name"]) ?? "")}[/] " +
                                   $"(scope {Markup.Escape(CtlClient.Text(response.Json?["scope"]) ?? "")}); its secret, shown only now:");
            Console.Out.WriteLine(secret); // alone on its line, unstyled: easy to copy or capture
            return 0;
        });

        var revokeName = new Argument<string>("name") { Description = "the token's name (\"bootstrap\": the nodes' configured token)" };
        var revoke = new Command("revoke", "Revoke a token on every node (it gets 401 from then on)") { revokeName };
        Ctl.SetAction(revoke, async (parse, client, ct) =>
        {
            var n = parse.GetRequiredValue(revokeName);
            return Ctl.Show(parse, await client.DeleteAsync($"/api/v1/tokens/{Ctl.Escape(n)}", ct), done: $"revoked token {n}");
        });

        return new Command("tokens", "API tokens (read: every GET; admin: everything)") { list, create, revoke };
    }
}
