using Azure.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Testing.Shared.Backends;

namespace ResumableUpload.Stores.AzureBlob.Tests;

/// <summary>The builder call: configuration binding, start-up validation and the health check.</summary>
[Collection(AzuriteGroup.Name)]
public sealed class RegistrationTests(AzuriteFixture azurite)
{
    private const string Section = "ResumableUploads:AzureBlob";

    [Fact]
    public async Task Start_WithoutConnectionString_FailsNamingTheKey()
    {
        var failure = await FluentActions.Awaiting(() => StartAsync(u => u.AddInMemoryStores().AddAzureBlobDataStore(o => o.ContainerName = "uploads"))).Should().ThrowAsync<OptionsValidationException>();
        failure.Which.Message.Should().Contain("ResumableUploads:AzureBlob:ConnectionString is required");
    }

    [Fact]
    public async Task Start_WithoutContainerName_FailsNamingTheKey()
    {
        var failure = await FluentActions.Awaiting(() => StartAsync(u => u.AddInMemoryStores().AddAzureBlobDataStore(),
            [new($"{Section}:ConnectionString", azurite.ConnectionString)])).Should().ThrowAsync<OptionsValidationException>();
        failure.Which.Message.Should().Contain("ResumableUploads:AzureBlob:ContainerName is required");
    }

    [Theory]
    [InlineData("ContainerName", "Not_Valid", "ContainerName 'Not_Valid' is not a valid container name")]
    [InlineData("ServiceVersion", "1999-01-01", "ServiceVersion '1999-01-01' is not a Blob service version")]
    [InlineData("BlockSize", "1000", "BlockSize 1000 is out of range")]
    [InlineData("MaxRetries", "-1", "MaxRetries -1 is out of range")]
    [InlineData("ConnectionString", "secret-but-not-a-connection-string", "ConnectionString is not an Azure Storage connection string")]
    [InlineData("BlobPrefix", "/rooted/", "BlobPrefix '/rooted/' is not valid")]
    public async Task Start_WithAnInvalidValue_FailsNamingItAndTheValue(string key, string value, string message)
    {
        var settings = new Dictionary<string, string?>
        {
            [$"{Section}:ConnectionString"] = azurite.ConnectionString,
            [$"{Section}:ContainerName"] = "uploads",
            [$"{Section}:{key}"] = value,
        };
        var failure = await FluentActions.Awaiting(() => StartAsync(u => u.AddInMemoryStores().AddAzureBlobDataStore(), settings)).Should().ThrowAsync<OptionsValidationException>();
        failure.Which.Message.Should().Contain(message);
        failure.Which.Message.Should().NotContain("secret-but-not", "a connection string is never echoed");
    }

    [Fact]
    public async Task Options_BindFromConfiguration_AndTheStoreIsTheDataStore()
    {
        var settings = new Dictionary<string, string?>
        {
            [$"{Section}:ConnectionString"] = azurite.ConnectionString,
            [$"{Section}:ContainerName"] = "from-config",
            [$"{Section}:BlobPrefix"] = "app1/",
            [$"{Section}:CreateContainerIfMissing"] = "true",
            [$"{Section}:ServiceVersion"] = "2026-06-06",
            [$"{Section}:BlockSize"] = "1048576",
            [$"{Section}:MaxRetries"] = "2",
        };
        await using var host = await TestHost.StartAsync(u => u.AddInMemoryStores().AddAzureBlobDataStore(), configuration: settings);

        var options = host.Services.GetRequiredService<IOptions<AzureBlobUploadStoreOptions>>().Value;
        options.Should().BeEquivalentTo(new AzureBlobUploadStoreOptions
        {
            ConnectionString = azurite.ConnectionString,
            ContainerName = "from-config",
            BlobPrefix = "app1/",
            CreateContainerIfMissing = true,
            ServiceVersion = "2026-06-06",
            BlockSize = 1 << 20,
            MaxRetries = 2,
        });
        var store = host.Services.GetRequiredService<IUploadDataStore>().Should().BeOfType<AzureBlobUploadDataStore>().Subject;
        store.Container.Name.Should().Be("from-config");
        store.BlobName("ab").Should().Be("app1/ab");
    }

    [Fact]
    public async Task CodeConfiguration_RunsAfterConfigurationBinding()
    {
        var settings = new Dictionary<string, string?> { [$"{Section}:ContainerName"] = "from-config", [$"{Section}:BlobPrefix"] = "config/" };
        await using var host = await TestHost.StartAsync(
            u => u.AddInMemoryStores().AddAzureBlobDataStore(o =>
            {
                o.ConnectionString = azurite.ConnectionString;
                o.BlobPrefix = "code/";
            }),
            configuration: settings);

        var options = host.Services.GetRequiredService<IOptions<AzureBlobUploadStoreOptions>>().Value;
        options.ContainerName.Should().Be("from-config");
        options.BlobPrefix.Should().Be("code/");
    }

    [Fact]
    public async Task ContainerClientOverload_NeedsNoConnectionString_AndUsesThatContainer()
    {
        var container = azurite.ContainerClient($"given-{Guid.NewGuid():N}");
        await container.CreateAsync();
        await using var host = await TestHost.StartAsync(u => u.AddInMemoryStores().AddAzureBlobDataStore(container));

        host.Services.GetRequiredService<AzureBlobUploadDataStore>().Container.Should().BeSameAs(container);
        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        report.Entries["resumable-uploads-AzureBlob"].Status.Should().Be(HealthStatus.Healthy);
    }

    [Fact]
    public async Task ContainerFactoryOverload_ResolvesFromTheServices()
    {
        var service = new BlobServiceClient(azurite.ConnectionString, new BlobClientOptions(BlobClientOptions.ServiceVersion.V2026_06_06));
        await using var host = await TestHost.StartAsync(u =>
        {
            u.Services.AddSingleton(service);
            u.AddInMemoryStores().AddAzureBlobDataStore(sp => sp.GetRequiredService<BlobServiceClient>().GetBlobContainerClient("from-factory"));
        });

        host.Services.GetRequiredService<AzureBlobUploadDataStore>().Container.Name.Should().Be("from-factory");
    }

    [Fact]
    public async Task HealthCheck_AgainstTheRealServer_IsHealthy()
    {
        await using var host = await TestHost.StartAsync(u => u.AddInMemoryStores().AddAzureBlobDataStore(o => Copy(azurite.Options(), o)));

        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        report.Entries.Should().ContainKey("resumable-uploads-AzureBlob");
        report.Entries["resumable-uploads-AzureBlob"].Status.Should().Be(HealthStatus.Healthy, report.Entries["resumable-uploads-AzureBlob"].Description);
    }

    [Fact]
    public async Task HealthCheck_AgainstAClosedPort_IsUnhealthy()
    {
        var closed = AzuriteFixture.OptionsFor(AzuriteServer.ConnectionStringFor(ServerProcess.FreePort()), maxRetries: 0);
        await using var host = await TestHost.StartAsync(u => u.AddInMemoryStores().AddAzureBlobDataStore(o => Copy(closed, o)));

        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        var entry = report.Entries["resumable-uploads-AzureBlob"];
        entry.Status.Should().Be(HealthStatus.Unhealthy);
        entry.Description.Should().Contain("cannot be reached");
        entry.Exception.Should().NotBeNull();
    }

    [Fact]
    public async Task HealthCheck_MissingContainer_IsUnhealthy_SayingSo()
    {
        var missing = azurite.Options(container: $"missing-{Guid.NewGuid():N}", createContainer: false);
        await using var host = await TestHost.StartAsync(u => u.AddInMemoryStores().AddAzureBlobDataStore(o => Copy(missing, o)));

        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        var entry = report.Entries["resumable-uploads-AzureBlob"];
        entry.Status.Should().Be(HealthStatus.Unhealthy);
        entry.Description.Should().Contain("does not exist");
    }

    [Fact]
    public async Task CallingTheBuilderTwice_RegistersOneHealthCheckAndOneDataStore()
    {
        await using var host = await TestHost.StartAsync(u => u.AddInMemoryStores()
            .AddAzureBlobDataStore(o => Copy(azurite.Options(), o))
            .AddAzureBlobDataStore(o => Copy(azurite.Options(), o)));

        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        report.Entries.Keys.Should().ContainSingle(k => k == "resumable-uploads-AzureBlob");
        host.Services.GetServices<IUploadDataStore>().Should().ContainSingle();
    }

    /// <summary>Builds and starts a host as a program would (the pipeline resolves the stores, so validation may fail in either step).</summary>
    private static async Task StartAsync(Action<IResumableUploadBuilder> uploads, IEnumerable<KeyValuePair<string, string?>>? configuration = null)
    {
        await using var host = await TestHost.StartAsync(uploads, configuration: configuration);
    }

    internal static void Copy(AzureBlobUploadStoreOptions from, AzureBlobUploadStoreOptions to)
    {
        to.ConnectionString = from.ConnectionString;
        to.ContainerName = from.ContainerName;
        to.BlobPrefix = from.BlobPrefix;
        to.CreateContainerIfMissing = from.CreateContainerIfMissing;
        to.ServiceVersion = from.ServiceVersion;
        to.BlockSize = from.BlockSize;
        to.MaxRetries = from.MaxRetries;
    }
}
