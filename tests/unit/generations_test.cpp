#include "lib/generation/generations.h"

#include <gtest/gtest.h>

namespace inkstone::lib {
using namespace inkstone::lib::base;
using namespace inkstone::lib::db;
using namespace inkstone::lib::billing;
using namespace inkstone::lib::generation;
namespace {

TEST(ModelCatalog, DefaultsToTheConfiguredCostForEveryModel) {
    Config config;
    std::vector<ModelInfo> models = ModelCatalog(config);
    ASSERT_EQ(models.size(), 5u);
    for (const ModelInfo& m : models) {
        EXPECT_EQ(m.credits, 10) << m.model;
        EXPECT_EQ(m.provider, "qwen");
    }
    EXPECT_EQ(models[3].model, "qwen-vl-plus");
    EXPECT_EQ(models[3].kind, ModelKind::kVision);
    EXPECT_EQ(models[4].kind, ModelKind::kImage);
}

TEST(ModelCatalog, PerModelOverrides) {
    Config config;
    config.credit.cost_per_generation = 7;
    config.ai.model_credits = " qwen-max=20, wanx-v1=0 ,";
    std::vector<ModelInfo> models = ModelCatalog(config);
    for (const ModelInfo& m : models) {
        int64_t expected = m.model == "qwen-max" ? 20 : m.model == "wanx-v1" ? 0 : 7;
        EXPECT_EQ(m.credits, expected) << m.model;
    }
}

TEST(ModelCatalog, RejectsMalformedOverrides) {
    for (const char* spec : {"qwen-max", "qwen-max=", "qwen-max=-1", "qwen-max=1.5", "gpt-4=10",
                             "qwen-max=99999999"}) {
        Config config;
        config.ai.model_credits = spec;
        EXPECT_THROW(ModelCatalog(config), ConfigError) << spec;
    }
}

TEST(WritingTool, RenderReplacesEveryPlaceholder) {
    WritingTool tool{"t", "n", "d", "sys", "写：{prompt}。再说一遍：{prompt}"};
    EXPECT_EQ(tool.Render("秋天"), "写：秋天。再说一遍：秋天");
    WritingTool bare{"t", "n", "d", "sys", "Intro"};
    EXPECT_EQ(bare.Render("x"), "Intro\nx");
    WritingTool empty{"t", "n", "d", "sys", ""};
    EXPECT_EQ(empty.Render("x"), "x");
    // A prompt containing the placeholder text is not expanded again.
    EXPECT_EQ(tool.Render("{prompt}"), "写：{prompt}。再说一遍：{prompt}");
}

TEST(GenerationStatus, StoredNamesRoundTripStrictly) {
    for (GenerationStatus status : {GenerationStatus::kRunning, GenerationStatus::kSucceeded,
                                    GenerationStatus::kFailed, GenerationStatus::kAborted}) {
        GenerationStatus parsed = GenerationStatus::kRunning;
        ASSERT_TRUE(FromSql(ToSql(status), &parsed)) << ToSql(status);
        EXPECT_EQ(parsed, status);
    }
    EXPECT_EQ(ToSql(GenerationStatus::kSucceeded), "SUCCEEDED");
    // Unknown text is never a fallback to RUNNING (db::Rows turns false into INKSTONE_ASSERT).
    for (const char* text : {"", "running", "DONE", "RUNNING ", "SUCCEEDED\n", "CANCELLED"}) {
        GenerationStatus parsed = GenerationStatus::kSucceeded;
        EXPECT_FALSE(FromSql(text, &parsed)) << text;
        EXPECT_EQ(parsed, GenerationStatus::kSucceeded) << "untouched on failure: " << text;
    }
}

TEST(ModelKind, StoredNamesRoundTripStrictly) {
    for (ModelKind kind : {ModelKind::kText, ModelKind::kVision, ModelKind::kImage}) {
        ModelKind parsed = ModelKind::kText;
        ASSERT_TRUE(FromSql(ToSql(kind), &parsed)) << ToSql(kind);
        EXPECT_EQ(parsed, kind);
    }
    EXPECT_EQ(ToSql(ModelKind::kVision), "vision");
    for (const char* text : {"", "TEXT", "video", "image "}) {
        ModelKind parsed = ModelKind::kImage;
        EXPECT_FALSE(FromSql(text, &parsed)) << text;
        EXPECT_EQ(parsed, ModelKind::kImage) << text;
    }
}

TEST(ModelCatalog, FindModelByName) {
    Config config;
    const std::vector<ModelInfo> models = ModelCatalog(config);
    const ModelInfo* vl = FindModel(models, "qwen-vl-plus");
    ASSERT_NE(vl, nullptr);
    EXPECT_EQ(vl->kind, ModelKind::kVision);
    EXPECT_EQ(FindModel(models, "gpt-4"), nullptr);
}

}  // namespace
}  // namespace inkstone::lib
