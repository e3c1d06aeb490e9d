namespace ResumableUpload.Sample;

/// <summary>
/// Chooses the stores from configuration alone, so the same sample runs on one machine (the filesystem default) or as
/// many instances behind a load balancer (state and locks in Redis or PostgreSQL, bytes in S3 or Azure Blob):
/// <code>
/// --ResumableUploads:Stores:State=Redis --ResumableUploads:Redis:Configuration=127.0.0.1:6379
/// --ResumableUploads:Stores:Data=S3 --ResumableUploads:S3:BucketName=uploads --ResumableUploads:S3:ServiceUrl=http://127.0.0.1:8080
/// </code>
/// Each store's own options bind from its section (<c>ResumableUploads:Redis</c>, <c>:PostgreSql</c>, <c>:S3</c>,
/// <c>:AzureBlob</c>, <c>:FileSystem</c>) and are validated at start-up.
/// </summary>
internal static class SampleStores
{
    public static IResumableUploadBuilder AddConfiguredStores(this IResumableUploadBuilder uploads, IConfiguration configuration)
    {
        var section = configuration.GetSection("ResumableUploads:Stores");
        var state = section["State"] ?? "FileSystem";
        var data = section["Data"] ?? "FileSystem";
        // Locks live where the state lives unless chosen apart; filesystem or in-memory state means one instance.
        var locks = section["Locks"] ?? (Is(state, "Redis") || Is(state, "PostgreSql") ? state : "InProcess");

        uploads.AddFileSystemStores(); // the default for whatever is not chosen below

        if (Is(state, "InMemory") || Is(data, "InMemory"))
        {
            // In-memory stores come as a pair; choose them for both or neither.
            if (!Is(state, "InMemory") || !Is(data, "InMemory"))
            {
                throw new InvalidOperationException("ResumableUploads:Stores: InMemory must be chosen for both State and Data.");
            }

            uploads.AddInMemoryStores();
        }
        else
        {
            switch (state)
            {
                case var s when Is(s, "FileSystem"):
                    break;
                case var s when Is(s, "Redis"):
                    uploads.AddRedisStateStore();
                    break;
                case var s when Is(s, "PostgreSql"):
                    uploads.AddPostgreSqlStateStore();
                    break;
                default:
                    throw Unknown("State", state, "FileSystem, InMemory, Redis, PostgreSql");
            }

            switch (data)
            {
                case var d when Is(d, "FileSystem"):
                    break;
                case var d when Is(d, "S3"):
                    uploads.AddS3DataStore();
                    break;
                case var d when Is(d, "AzureBlob"):
                    uploads.AddAzureBlobDataStore();
                    break;
                default:
                    throw Unknown("Data", data, "FileSystem, InMemory, S3, AzureBlob");
            }
        }

        switch (locks)
        {
            case var l when Is(l, "InProcess"):
                break;
            case var l when Is(l, "Redis"):
                uploads.AddRedisLockProvider();
                break;
            case var l when Is(l, "PostgreSql"):
                uploads.AddPostgreSqlLockProvider();
                break;
            default:
                throw Unknown("Locks", locks, "InProcess, Redis, PostgreSql");
        }

        return uploads;
    }

    private static bool Is(string value, string name) => string.Equals(value, name, StringComparison.OrdinalIgnoreCase);

    private static InvalidOperationException Unknown(string key, string value, string choices)
        => new($"ResumableUploads:Stores:{key} is '{value}'; choose one of {choices}.");
}
