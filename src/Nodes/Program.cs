using Fabric.Nodes.Cli;

// `fabric node`, `fabric up`, `fabric ctl`: see src/Nodes/Cli and ../shared/API.md ("Command line").
return await FabricCli.RunAsync(args);
