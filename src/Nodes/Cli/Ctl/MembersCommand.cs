using System.CommandLine;

namespace Fabric.Nodes.Cli.Ctl;

/// <summary>
/// <c>fabric ctl members [leave NAME | down NAME]</c>: GET /cluster/members; a member asked to leave gracefully
/// (POST /cluster/members/NAME/leave), or downed when it is crashed or cut off and will not come back on its own
/// (DELETE /cluster/members/NAME): the way to retire a host for good.
/// </summary>
public static class MembersCommand
{
    public static Command Create()
    {
        var leaveName = new Argument<string>("name") { Description = "the member's node name (as `fabric ctl members` lists it)" };
        var leave = new Command("leave", "Ask a member to leave the cluster gracefully; its endpoints' locations are withdrawn") { leaveName };
        Ctl.SetAction(leave, async (parse, client, ct) =>
        {
            var n = parse.GetRequiredValue(leaveName);
            return Ctl.Show(parse, await client.PostAsync($"/cluster/members/{Ctl.Escape(n)}/leave", Ctl.Body(), ct), done: $"asked {n} to leave");
        });

        var downName = new Argument<string>("name") { Description = "the member's node name (as `fabric ctl members` lists it)" };
        var down = new Command("down", "Down a member that is crashed or cut off: the cluster removes it without its cooperation") { downName };
        Ctl.SetAction(down, async (parse, client, ct) =>
        {
            var n = parse.GetRequiredValue(downName);
            return Ctl.Show(parse, await client.DeleteAsync($"/cluster/members/{Ctl.Escape(n)}", ct), done: $"downed {n}");
        });

        var command = new Command("members", "List the cluster's members; retire one with leave or down") { leave, down };
        Ctl.SetAction(command, async (parse, client, ct) => Ctl.Show(parse, await client.GetAsync("/cluster/members", ct), "members"));
        return command;
    }
}
