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
catch (Exception e) when (e is Microsoft.Extensions.Options.OptionsValidationException or InvalidDataException or FileNotFoundException)
{
    // Bad settings or a bad model zip: say why and exit non-zero.
    Console.Error.WriteLine($"BatchScoringWorker cannot start: {e.Message}");
    return 1;
}
