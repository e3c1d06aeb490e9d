using System.Net;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.Tus;

/// <summary>The concatenation and concatenation-unfinished extensions.</summary>
public sealed class ConcatenationTests
{
    [Fact]
    public async Task PostFinal_OfTwoFinishedPartials_HasUploadConcatFinalOffsetEqualToTheSumAndTheConcatenatedBytes()
    {
        await using var host = await UploadTestHost.StartAsync();
        var a = await host.Client.CreateUploadAsync(length: 5, concat: "partial");
        var b = await host.Client.CreateUploadAsync(length: 6, concat: "partial");
        (await host.Client.PatchAsync(a, 0, "hello"u8.ToArray())).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await host.Client.PatchAsync(b, 0, " world"u8.ToArray())).StatusCode.Should().Be(HttpStatusCode.NoContent);

        using var create = await host.Client.CreateAsync(concat: $"final;{a} {b}");
        create.StatusCode.Should().Be(HttpStatusCode.Created);
        var final = create.Headers.Location!.OriginalString;
        using var head = await host.Client.HeadAsync(final);

        head.StatusCode.Should().Be(HttpStatusCode.OK);
        head.Header("Upload-Concat").Should().Be($"final;{a} {b}", "HEAD carries Upload-Concat as received at creation");
        head.Header("Upload-Offset").Should().Be("11");
        head.Header("Upload-Length").Should().Be("11", "after concatenation Upload-Offset and Upload-Length are set and equal");
        (await host.Client.GetStringAsync(final)).Should().Be("hello world");
    }

    [Fact]
    public async Task Head_PartialUpload_HasUploadConcatPartialAndUploadOffset()
    {
        await using var host = await UploadTestHost.StartAsync();
        var a = await host.Client.CreateUploadAsync(length: 5, concat: "partial");
        (await host.Client.PatchAsync(a, 0, "he"u8.ToArray())).StatusCode.Should().Be(HttpStatusCode.NoContent);

        using var head = await host.Client.HeadAsync(a);

        head.Header("Upload-Concat").Should().Be("partial");
        head.Header("Upload-Offset").Should().Be("2");
        head.Header("Upload-Length").Should().Be("5");
    }

    [Fact]
    public async Task PostFinal_WithAbsolutePartUrls_IsAccepted()
    {
        await using var host = await UploadTestHost.StartAsync();
        var a = await host.Client.CreateUploadAsync(length: 3, concat: "partial");
        var b = await host.Client.CreateUploadAsync(length: 3, concat: "partial");
        (await host.Client.PatchAsync(a, 0, "abc"u8.ToArray())).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await host.Client.PatchAsync(b, 0, "def"u8.ToArray())).StatusCode.Should().Be(HttpStatusCode.NoContent);

        using var create = await host.Client.CreateAsync(concat: $"final;{new Uri(host.BaseAddress, a)} {new Uri(host.BaseAddress, b)}");

        create.StatusCode.Should().Be(HttpStatusCode.Created);
        (await host.Client.GetStringAsync(create.Headers.Location!.OriginalString)).Should().Be("abcdef");
    }

    [Fact]
    public async Task Head_FinalCreatedWithAbsolutePartUrls_EchoesUploadConcatAsReceived()
    {
        // Spec (concatenation): "Response to HEAD request against partial or final upload MUST include the
        // Upload-Concat header and its value as received in the upload creation request."
        await using var host = await UploadTestHost.StartAsync();
        var a = await host.Client.CreateUploadAsync(length: 1, concat: "partial");
        var b = await host.Client.CreateUploadAsync(length: 1, concat: "partial");
        var concat = $"final;{new Uri(host.BaseAddress, a)} {new Uri(host.BaseAddress, b)}";
        var final = await host.Client.CreateUploadAsync(length: null, concat: concat);

        using var head = await host.Client.HeadAsync(final);

        // Regression: TusProtocolHandler.HeadAsync used to rebuild the value from the HEAD request's path and the stored part ids,
        // so absolute part URLs come back as path-absolute ones ("final;/<id> /<id>").
        head.Header("Upload-Concat").Should().Be(concat);
    }

    [Fact]
    public async Task Patch_FinalUpload_Returns403AndLeavesFinalAndPartsUnchanged()
    {
        await using var host = await UploadTestHost.StartAsync();
        var a = await host.Client.CreateUploadAsync(length: 5, concat: "partial");
        var b = await host.Client.CreateUploadAsync(length: 5, concat: "partial");
        var final = await host.Client.CreateUploadAsync(length: null, concat: $"final;{a} {b}");

        using var patch = await host.Client.PatchAsync(final, 0, "hello"u8.ToArray());

        patch.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await host.Client.GetOffsetAsync(a)).Should().Be(0);
        (await host.Client.GetOffsetAsync(b)).Should().Be(0);
        using var head = await host.Client.HeadAsync(final);
        head.Header("Upload-Offset").Should().BeNull();
    }

    [Fact]
    public async Task PostFinal_WithUploadLength_Returns400()
    {
        await using var host = await UploadTestHost.StartAsync();
        var a = await host.Client.CreateUploadAsync(length: 5, concat: "partial");

        using var response = await host.Client.CreateAsync(length: 5, concat: $"final;{a}");

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task PostFinal_WithAnUploadThatIsNotPartial_Returns400()
    {
        await using var host = await UploadTestHost.StartAsync();
        var a = await host.Client.CreateUploadAsync(length: 5, concat: "partial");
        var plain = await host.Client.CreateUploadAsync(length: 5);

        using var response = await host.Client.CreateAsync(concat: $"final;{a} {plain}");
        using var unknown = await host.Client.CreateAsync(concat: $"final;{a} /{new string('d', 32)}");
        using var malformed = await host.Client.CreateAsync(concat: "final;");

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        unknown.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        malformed.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task PostFinal_WithAPartOfAnotherUser_Returns400()
    {
        await using var host = await UploadTestHost.StartAsync(testAuthentication: true);
        using var alice = host.CreateClient("alice");
        using var bob = host.CreateClient("bob");
        var alicesPart = await alice.CreateUploadAsync(length: 5, concat: "partial");
        (await alice.PatchAsync(alicesPart, 0, "alice"u8.ToArray())).StatusCode.Should().Be(HttpStatusCode.NoContent);
        var bobsPart = await bob.CreateUploadAsync(length: 3, concat: "partial");
        (await bob.PatchAsync(bobsPart, 0, "bob"u8.ToArray())).StatusCode.Should().Be(HttpStatusCode.NoContent);

        using var response = await bob.CreateAsync(concat: $"final;{bobsPart} {alicesPart}");

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        response.Headers.Location.Should().BeNull();
    }

    [Fact]
    public async Task PostFinal_PartsMetadataIsNotTransferredButTheFinalsOwnIs()
    {
        await using var host = await UploadTestHost.StartAsync();
        var a = await host.Client.CreateUploadAsync(length: 1, concat: "partial", metadata: "part " + TusClient.Base64("a"));
        (await host.Client.PatchAsync(a, 0, "a"u8.ToArray())).StatusCode.Should().Be(HttpStatusCode.NoContent);

        var bare = await host.Client.CreateUploadAsync(length: null, concat: $"final;{a}");
        var named = await host.Client.CreateUploadAsync(length: null, concat: $"final;{a}", metadata: "filename " + TusClient.Base64("a.txt"));

        (await host.Client.HeadAsync(bare)).Header("Upload-Metadata").Should().BeNull();
        (await host.Client.HeadAsync(named)).Header("Upload-Metadata").Should().Be("filename " + TusClient.Base64("a.txt"));
    }

    [Fact]
    public async Task PostFinal_APartialUsedTwice_FormsTwoFinals()
    {
        await using var host = await UploadTestHost.StartAsync();
        var a = await host.Client.CreateUploadAsync(length: 2, concat: "partial");
        (await host.Client.PatchAsync(a, 0, "ab"u8.ToArray())).StatusCode.Should().Be(HttpStatusCode.NoContent);

        var once = await host.Client.CreateUploadAsync(length: null, concat: $"final;{a}");
        var twice = await host.Client.CreateUploadAsync(length: null, concat: $"final;{a} {a}");

        (await host.Client.GetStringAsync(once)).Should().Be("ab");
        (await host.Client.GetStringAsync(twice)).Should().Be("abab");
    }

    // concatenation-unfinished

    [Fact]
    public async Task PostFinal_BeforeThePartsFinish_HeadHasNoOffsetUntilThePartsAreDoneThenTheSum()
    {
        await using var host = await UploadTestHost.StartAsync();
        var partA = Protocol.RandomBytes(30_000, seed: 1);
        var partB = Protocol.RandomBytes(20_000, seed: 2);
        var a = await host.Client.CreateUploadAsync(length: partA.Length, concat: "partial");
        var b = await host.Client.CreateUploadAsync(length: partB.Length, concat: "partial");
        (await host.Client.PatchAsync(a, 0, partA.AsMemory(0, 10_000))).StatusCode.Should().Be(HttpStatusCode.NoContent);

        var final = await host.Client.CreateUploadAsync(length: null, concat: $"final;{a} {b}");
        using var early = await host.Client.HeadAsync(final);
        using var earlyGet = await host.Client.GetAsync(final);

        early.StatusCode.Should().Be(HttpStatusCode.OK);
        early.Header("Upload-Offset").Should().BeNull("a final upload has no offset until the concatenation has finished");
        early.Header("Upload-Concat").Should().Be($"final;{a} {b}");
        earlyGet.StatusCode.Should().Be(HttpStatusCode.NotFound);

        (await host.Client.PatchAsync(a, 10_000, partA.AsMemory(10_000))).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await host.Client.PatchAsync(b, 0, partB)).StatusCode.Should().Be(HttpStatusCode.NoContent);
        using var late = await host.Client.HeadAsync(final);

        late.Header("Upload-Offset").Should().Be("50000");
        late.Header("Upload-Length").Should().Be("50000");
        (await host.Client.GetByteArrayAsync(final)).Should().Equal([.. partA, .. partB]);
    }

    [Fact]
    public async Task Head_UnfinishedFinalWhosePartLengthsAreKnown_IncludesUploadLength()
    {
        // Spec (concatenation): "The Upload-Length header MUST be included if the length of the final resource can
        // be calculated at the time of the request."
        await using var host = await UploadTestHost.StartAsync();
        var a = await host.Client.CreateUploadAsync(length: 5, concat: "partial");
        var b = await host.Client.CreateUploadAsync(length: 6, concat: "partial");
        var final = await host.Client.CreateUploadAsync(length: null, concat: $"final;{a} {b}");

        using var head = await host.Client.HeadAsync(final);

        // Regression: at cc4c18f TusProtocolHandler.CreateAsync computed the parts' total but created the final with
        // Length = null (`partIds is null ? length : null`), so HEAD had no Upload-Length until the parts were done.
        head.Header("Upload-Length").Should().Be("11");
        head.Header("Upload-Offset").Should().BeNull("the concatenation has not finished");
    }
}
