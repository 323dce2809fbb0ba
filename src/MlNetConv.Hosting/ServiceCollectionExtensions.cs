using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MlNetConv.Hosting;

/// <summary>Registration of the image batch-scoring worker.</summary>
public static class ServiceCollectionExtensions
{
    /// <summary>
    /// Adds the worker that scores images with an ML.NET model zip, bound to <paramref name="configuration"/> (e.g.
    /// <c>builder.Configuration.GetSection("ImageScoring")</c>) and validated at start-up. Its <c>Transport</c> setting
    /// chooses where images come from: an inbox folder (Folder, the default) or a RabbitMQ queue (RabbitMq).
    /// </summary>
    public static IServiceCollection AddImageBatchScoring(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<ImageScoringOptions>().Bind(configuration).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ImageScoringOptions>, ImageScoringOptionsValidator>());
        services.TryAddSingleton<ScoringMetrics>();
        ImageScoringTransport transport = configuration.GetValue("Transport", ImageScoringTransport.Folder);
        if (transport == ImageScoringTransport.RabbitMq) services.AddHostedService<RabbitMqScoringService>();
        else services.AddHostedService<FolderInboxService>();
        return services;
    }
}
