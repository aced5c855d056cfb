//! The short text every result carries beside its `structuredContent`, for clients that only
//! read text. Here rather than in `mcp-tool-shapes` because it is how a server renders a result,
//! which the orchestrator and its client never do.

use crate::{
    ToolOutput,
    shapes::{ChatOutput, EmbedOutput, ListModelsOutput, SearchOutput, WeatherOutput},
};

impl ToolOutput for ChatOutput {
    fn summary(&self) -> String {
        self.message.clone()
    }
}

impl ToolOutput for EmbedOutput {
    fn summary(&self) -> String {
        format!(
            "{} embedding(s) of {} dimensions from {} ({})",
            self.embeddings.len(),
            self.dimensions,
            self.model,
            self.vendor
        )
    }
}

impl ToolOutput for ListModelsOutput {
    fn summary(&self) -> String {
        let ids: Vec<&str> = self.models.iter().map(|m| m.id.as_str()).collect();
        format!("{} model(s): {}", ids.len(), ids.join(", "))
    }
}

impl ToolOutput for SearchOutput {
    fn summary(&self) -> String {
        let mut text = format!("{} result(s) from {}", self.results.len(), self.provider);
        for hit in &self.results {
            text.push_str(&format!("\n- {} <{}>", hit.title, hit.url));
        }
        text
    }
}

impl ToolOutput for WeatherOutput {
    fn summary(&self) -> String {
        format!(
            "{}: {:.1} {}, {}, humidity {:.0}%, wind {:.1} {} ({})",
            self.location,
            self.temperature,
            self.units.temperature_symbol(),
            self.description,
            self.humidity,
            self.wind_speed,
            self.units.wind_symbol(),
            self.provider
        )
    }
}
