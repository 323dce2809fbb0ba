// Scores the images dropped into ImageScoring:Inbox with the model zip at ImageScoring:ModelPath. Settings come from
// an appsettings.json beside it (if you add one), environment variables (ImageScoring__Inbox=...) or the command line (--ImageScoring:Inbox=...).
using Microsoft.Extensions.Hosting;
using MlNetConv.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddImageBatchScoring(builder.Configuration.GetSection("ImageScoring"));
await builder.Build().RunAsync();
