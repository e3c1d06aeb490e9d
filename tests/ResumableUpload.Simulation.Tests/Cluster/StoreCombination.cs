using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Testing.Shared.Backends;

namespace ResumableUpload.Simulation.Tests.Cluster;

/// <summary>
/// One choice of real stores shared by every host of the simulation. Servers start once per test; each schedule gets
/// fresh names (key prefix, directory) so schedules never see each other's uploads.
/// </summary>
internal abstract class StoreCombination : IAsyncDisposable
{
    // Short leases, so a lease left behind by a cut request frees its upload within the schedule.
    protected static readonly TimeSpan Lease = TimeSpan.FromSeconds(2);

    protected List<IAsyncDisposable> Owned { get; } = [];

    protected string Namespace { get; private set; } = "s0";

    public abstract string Name { get; }

    /// <summary>Whether the lock provider grants leases with fencing tokens (so a lease can expire under a frozen holder).</summary>
    public abstract bool Fenced { get; }

    public abstract Task StartAsync();

    /// <summary>Fresh names for the next schedule.</summary>
    public virtual void BeginSchedule(int schedule) => Namespace = "s" + schedule.ToString(System.Globalization.CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..8];

    public abstract void Configure(IResumableUploadBuilder uploads);

    public static StoreCombination Create(string name) => name switch
    {
        "FileSystem+InProcessLock" => new FileSystemWithSharedLock(),
        "Redis+S3" => new RedisWithS3(),
        "PostgreSql+AzureBlob" => new PostgreSqlWithAzureBlob(),
        "Redis+FileSystem" => new RedisWithFileSystem(),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "unknown store combination"),
    };

    public virtual async ValueTask DisposeAsync()
    {
        for (var i = Owned.Count - 1; i >= 0; i--)
        {
            await Owned[i].DisposeAsync();
        }
    }

    /// <summary>
    /// The embedded default: state and bytes in one shared directory, and ONE in-process lock provider for all hosts
    /// (taken from a service provider of its own through the public interface), which is what makes the hosts exclude
    /// each other. No leases, so no fencing: the schedule never expires a lock here.
    /// </summary>
    private sealed class FileSystemWithSharedLock : StoreCombination
    {
        private readonly string _root = Path.Combine(Path.GetTempPath(), "ru-simulation", Guid.NewGuid().ToString("N"));
        private ServiceProvider? _lockServices;
        private IUploadLockProvider? _locks;

        public override string Name => "FileSystem+InProcessLock";

        public override bool Fenced => false;

        public override Task StartAsync()
        {
            Directory.CreateDirectory(_root);
            var services = new ServiceCollection();
            services.AddLogging();
            services.AddResumableUploads();
            _lockServices = services.BuildServiceProvider();
            _locks = _lockServices.GetRequiredService<IUploadLockProvider>();
            return Task.CompletedTask;
        }

        public override void BeginSchedule(int schedule)
        {
            base.BeginSchedule(schedule);
            Directory.CreateDirectory(Path.Combine(_root, Namespace));
        }

        public override void Configure(IResumableUploadBuilder uploads)
        {
            uploads.AddFileSystemStores(Path.Combine(_root, Namespace));
            var locks = _locks!;
            uploads.Services.AddSingleton(locks);
        }

        public override async ValueTask DisposeAsync()
        {
            await base.DisposeAsync();
            if (_lockServices is not null)
            {
                await _lockServices.DisposeAsync();
            }

            try
            {
                Directory.Delete(_root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private sealed class RedisWithS3 : StoreCombination
    {
        private RedisServer? _redis;
        private SwiftS3Server? _s3;
        private string _bucket = "";

        public override string Name => "Redis+S3";

        public override bool Fenced => true;

        public override async Task StartAsync()
        {
            _redis = await RedisServer.StartAsync();
            Owned.Add(_redis);
            _s3 = await SwiftS3Server.StartAsync();
            Owned.Add(_s3);
            _bucket = SwiftS3Server.NewBucketName();
            await _s3.CreateBucketAsync(_bucket);
        }

        public override void Configure(IResumableUploadBuilder uploads)
        {
            var ns = Namespace;
            uploads.AddRedisStores(o =>
            {
                o.Configuration = _redis!.ConnectionString;
                o.KeyPrefix = "sim:" + ns + ":";
                o.LeaseDuration = Lease;
            });
            uploads.AddS3DataStore(o =>
            {
                o.BucketName = _bucket;
                o.KeyPrefix = ns + "/";
                o.ServiceUrl = _s3!.ServiceUrl;
                o.Region = _s3.Region;
                o.ForcePathStyle = true;
                o.AccessKey = _s3.AccessKey;
                o.SecretKey = _s3.SecretKey;
            });
        }
    }

    private sealed class PostgreSqlWithAzureBlob : StoreCombination
    {
        private PostgresServer? _postgres;
        private AzuriteServer? _azurite;
        private string _connectionString = "";

        public override string Name => "PostgreSql+AzureBlob";

        public override bool Fenced => true;

        public override async Task StartAsync()
        {
            _postgres = await PostgresServer.StartAsync();
            Owned.Add(_postgres);
            _connectionString = await _postgres.CreateDatabaseAsync();
            _azurite = await AzuriteServer.StartAsync();
            Owned.Add(_azurite);
        }

        public override void Configure(IResumableUploadBuilder uploads)
        {
            var ns = Namespace;
            uploads.AddPostgreSqlStores(o =>
            {
                o.ConnectionString = _connectionString;
                o.CreateSchemaOnStartup = true;
                o.LeaseDuration = Lease;
            });
            uploads.AddAzureBlobDataStore(o =>
            {
                o.ConnectionString = _azurite!.ConnectionString;
                o.ContainerName = "uploads";
                o.CreateContainerIfMissing = true;
                o.ServiceVersion = AzuriteServer.ServiceVersion;
                o.BlobPrefix = ns + "/";
            });
        }
    }

    /// <summary>Redis state and leases over bytes in one directory that every host shares (a shared disk).</summary>
    private sealed class RedisWithFileSystem : StoreCombination
    {
        private readonly string _root = Path.Combine(Path.GetTempPath(), "ru-simulation", Guid.NewGuid().ToString("N"));
        private RedisServer? _redis;

        public override string Name => "Redis+FileSystem";

        public override bool Fenced => true;

        public override async Task StartAsync()
        {
            _redis = await RedisServer.StartAsync();
            Owned.Add(_redis);
        }

        public override void Configure(IResumableUploadBuilder uploads)
        {
            var ns = Namespace;
            uploads.AddFileSystemStores(Path.Combine(_root, ns));
            uploads.AddRedisStores(o =>
            {
                o.Configuration = _redis!.ConnectionString;
                o.KeyPrefix = "sim:" + ns + ":";
                o.LeaseDuration = Lease;
            });
        }

        public override async ValueTask DisposeAsync()
        {
            await base.DisposeAsync();
            try
            {
                Directory.Delete(_root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
