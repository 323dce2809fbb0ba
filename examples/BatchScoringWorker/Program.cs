// A worker service that scores images with the model zip at ImageScoring:ModelPath, from the inbox folder
// ImageScoring:Inbox (Transport Folder, the default) or from a RabbitMQ queue (Transport RabbitMq, settings under
// ImageScoring:RabbitMq). Settings come from appsettings.json, environment variables (ImageScoring__Inbox=...) or the
// command line (--ImageScoring:Inbox=...). Ctrl+C or SIGTERM finish the batch in flight and stop.
// The RabbitMQ producer's side, with the same settings:
//   --enqueue DIR [--references]   publish every image of DIR (its bytes, or references to the files) as requests
//   --results DIR [--idle SECONDS]  write each result to DIR/<request id>.<model id>.json until none came for SECONDS (5)
using BatchScoringWorker;
using MlNetConv.Hosting;

// appsettings.json is read once, not watched: the watch covers the whole tree under the working directory, where the
// inbox usually is, and every image arriving, claimed and moved raised events in it (a fifth of the folder worker's
// speed, measured with the workers benchmark's inbox under the working directory). The scoring settings are read at start anyway.
var hostConfiguration = new ConfigurationManager();
hostConfiguration.AddInMemoryCollection([new("hostBuilder:reloadConfigOnChange", "false")]);
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, Configuration = hostConfiguration });
try
{
    if (RabbitMqCommands.Parse(args) is { } command)
        return await command.RunAsync(builder.Configuration.GetSection("ImageScoring"));
    builder.Services.AddImageBatchScoring(builder.Configuration.GetSection("ImageScoring"));
    using var host = builder.Build();
    await host.RunAsync();
    return 0;
}
catch (ArgumentException e) when (e.ParamName == "args")
{
    Console.Error.WriteLine($"error: {e.Message.Replace(" (Parameter 'args')", "")}");
    return 2;
}
catch (Exception e) when (e is Microsoft.Extensions.Options.OptionsValidationException or InvalidDataException or IOException or UnauthorizedAccessException
    or RabbitMQ.Client.Exceptions.BrokerUnreachableException)
{
    // Bad settings, a missing or bad model zip (LoadConvNet's message names it and the problem), an unusable folder, an
    // unreachable broker: say why on one line and exit 1.
    Console.Error.WriteLine($"error: BatchScoringWorker cannot start: {e.Message.ReplaceLineEndings(" ")}");
    return 1;
}
