using ResumableUpload.Testing.Shared.Backends;

namespace ResumableUpload.ScaleOut.Tests;

/// <summary>The store combinations the multi-instance tests run: each starts its real servers and configures the sample for them.</summary>
internal static class BackendCombinations
{
    // Short leases so a killed instance's upload passes on within seconds in the tests (30 s by default).
    private const string TestLease = "00:00:03";

    public static Backends Get(string name) => name switch
    {
        "Redis+S3" => new RedisAndS3(),
        "PostgreSql+AzureBlob" => new PostgreSqlAndAzureBlob(),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "unknown combination"),
    };

    private static IEnumerable<string> Common() =>
    [
        "--ResumableUploads:LockWaitTimeout=00:00:01",
    ];

    private sealed class RedisAndS3 : Backends
    {
        public override string Name => "Redis+S3";

        public override async Task<IReadOnlyList<string>> StartAsync(List<IAsyncDisposable> owned)
        {
            var redis = await RedisServer.StartAsync();
            owned.Add(redis);
            var s3 = await SwiftS3Server.StartAsync();
            owned.Add(s3);
            var bucket = SwiftS3Server.NewBucketName();
            await s3.CreateBucketAsync(bucket);

            return
            [
                .. Common(),
                "--ResumableUploads:Stores:State=Redis",
                $"--ResumableUploads:Redis:Configuration={redis.ConnectionString}",
                $"--ResumableUploads:Redis:LeaseDuration={TestLease}",
                "--ResumableUploads:Stores:Data=S3",
                .. s3.StoreConfiguration(bucket).Select(pair => $"--{pair.Key}={pair.Value}"),
            ];
        }
    }

    private sealed class PostgreSqlAndAzureBlob : Backends
    {
        public override string Name => "PostgreSql+AzureBlob";

        public override async Task<IReadOnlyList<string>> StartAsync(List<IAsyncDisposable> owned)
        {
            var postgres = await PostgresServer.StartAsync();
            owned.Add(postgres);
            var connectionString = await postgres.CreateDatabaseAsync();
            var azurite = await AzuriteServer.StartAsync();
            owned.Add(azurite);

            return
            [
                .. Common(),
                "--ResumableUploads:Stores:State=PostgreSql",
                $"--ResumableUploads:PostgreSql:ConnectionString={connectionString}",
                "--ResumableUploads:PostgreSql:CreateSchemaOnStartup=true",
                $"--ResumableUploads:PostgreSql:LeaseDuration={TestLease}",
                "--ResumableUploads:Stores:Data=AzureBlob",
                $"--ResumableUploads:AzureBlob:ConnectionString={azurite.ConnectionString}",
                "--ResumableUploads:AzureBlob:ContainerName=uploads",
                "--ResumableUploads:AzureBlob:CreateContainerIfMissing=true",
                $"--ResumableUploads:AzureBlob:ServiceVersion={AzuriteServer.ServiceVersion}",
            ];
        }
    }
}
