// A worker service that scores every image dropped into ImageScoring:Inbox with the model zip at ImageScoring:ModelPath.
// Settings come from appsettings.json, environment variables (ImageScoring__Inbox=...) or the command line
// (--ImageScoring:Inbox=...). Ctrl+C or SIGTERM finish the batch in flight and stop.
using MlNetConv.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddImageBatchScoring(builder.Configuration.GetSection("ImageScoring"));
using var host = builder.Build();
try
{
    await host.RunAsync();
    return 0;
}
catch (Exception e) when (e is Microsoft.Extensions.Options.OptionsValidationException or InvalidDataException or IOException or UnauthorizedAccessException)
{
    // Bad settings, a missing or bad model zip (LoadConvNet's message names it and the problem), an unusable folder:
    // say why on one line and exit 1.
    Console.Error.WriteLine($"error: BatchScoringWorker cannot start: {e.Message.ReplaceLineEndings(" ")}");
    return 1;
}
